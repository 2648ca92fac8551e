"""A project's own rules: what it gives, dates, money, places and contact, with Chinese
errors and nothing saved when input is bad."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from charity.models import ProjectPage
from charity.services import project_create, project_section_ensure
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Organisation
from tests import factories as f
from tests.charity.conftest import project_fields

pytestmark = pytest.mark.django_db


def test_project_is_a_draft_in_its_organisations_section(projects_world, make_project):
    w = projects_world
    page = make_project()
    page.refresh_from_db()
    assert page.organisation == w.charity
    assert page.get_parent().pk == w.sections[w.charity.pk].pk
    assert not page.live
    assert page.owner == w.charity_staff
    assert page.get_latest_revision() is not None
    assert page.open_capacity == 20
    assert list(page.streets.all()) == [w.street]
    assert list(page.service_types.all()) == w.service_types[:1]
    assert page.places_taken == 0


def test_open_capacity_counts_places_taken(make_project):
    page = make_project(capacity=5)
    ProjectPage.objects.filter(pk=page.pk).update(places_taken=3)
    page.refresh_from_db()
    assert page.open_capacity == 2


def test_organisation_follows_the_section_not_the_caller(projects_world, make_project):
    w = projects_world
    page = make_project()
    page.organisation = w.charity2
    page.save()
    page.refresh_from_db()
    assert page.organisation == w.charity


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"gives_funds": False, "gives_goods": False, "gives_services": False},
            "gives_funds",
            "请至少选择一种提供内容：资金、物资或服务。",
        ),
        (
            {"starts_on": datetime.date(2030, 5, 2), "ends_on": datetime.date(2030, 5, 1)},
            "ends_on",
            "结束日期不能早于开始日期。",
        ),
        ({"budget": Decimal("-1.00")}, "budget", "项目预算不能为负数。"),
        ({"budget": Decimal("100.005")}, "budget", "项目预算最多保留两位小数（精确到分）。"),
        ({"capacity": 0}, "capacity", "可服务人数至少为 1 人。"),
        ({"contact_phone": "12345"}, "contact_phone", "请输入11位手机号码，或带区号的固定电话。"),
        ({"contact_phone": "0551-12"}, "contact_phone", "请输入11位手机号码，或带区号的固定电话。"),
        ({"streets": []}, "streets", "请至少选择一个覆盖街道。"),
        ({"title": ""}, "title", None),
    ],
)
def test_bad_input_is_refused_in_chinese_and_saves_nothing(
    projects_world, overrides, field, message
):
    w = projects_world
    before = ProjectPage.objects.count()
    with pytest.raises(ValidationError) as exc:
        project_create(**project_fields(w, **overrides))
    assert field in exc.value.message_dict
    if message:
        assert message in exc.value.message_dict[field]
    assert ProjectPage.objects.count() == before


def test_streets_must_be_street_level(projects_world):
    w = projects_world
    with pytest.raises(ValidationError) as exc:
        project_create(**project_fields(w, streets=[w.community]))
    assert exc.value.message_dict["streets"] == ["覆盖范围只能选择街道/镇/开发区。"]
    assert not ProjectPage.objects.exists()


def test_landline_and_mobile_phones_are_accepted(make_project):
    assert make_project(contact_phone="0551-62345678").contact_phone == "0551-62345678"
    assert make_project(contact_phone=" 139 0551 0002 ").contact_phone == "13905510002"


def test_capacity_cannot_fall_below_places_taken(make_project):
    page = make_project(capacity=5)
    ProjectPage.objects.filter(pk=page.pk).update(places_taken=4)
    page.refresh_from_db()
    page.capacity = 3
    with pytest.raises(ValidationError) as exc:
        page.full_clean()
    assert exc.value.message_dict["capacity"] == ["可服务人数不能少于已服务人数（4 人）。"]


def test_only_the_organisations_staff_may_create(projects_world):
    w = projects_world
    for owner in (w.charity2_staff, w.official, w.users["volunteer"]):
        with pytest.raises(NotPermitted):
            project_create(**project_fields(w, owner=owner))
    assert not ProjectPage.objects.exists()


def test_unverified_or_other_kinds_have_no_section(projects_world):
    w = projects_world
    for organisation in (w.charity_pending, w.station, w.federation, w.office):
        with pytest.raises(InvalidState):
            project_section_ensure(organisation=organisation)
    staff = f.user("daiding", "charity_staff", w.charity_pending)
    with pytest.raises(InvalidState):
        project_create(
            **project_fields(w, organisation=w.charity_pending, owner=staff, streets=[w.street2])
        )
    assert not ProjectPage.objects.exists()
    assert not Organisation.objects.filter(project_section__isnull=False, verified=False).exists()
