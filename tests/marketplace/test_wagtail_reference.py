"""Reference data (低保 standard, service types, monitoring thresholds) is edited by civil
affairs in the Wagtail admin, and by nobody else."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from marketplace.models import AssistanceStandard, MonitoringRule, Role


def _admin_user(user):
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    return user


@pytest.fixture
def civil(world, client):
    client.force_login(_admin_user(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]))
    return client


def test_civil_affairs_lists_and_adds_a_standard(world, civil):
    response = civil.get(reverse("assistancestandard:index"))
    assert response.status_code == 200
    assert "800" in response.content.decode()
    response = civil.post(
        reverse("assistancestandard:add"),
        {"year": 2020, "area": world.district.pk, "dibao_monthly": "700"},
    )
    assert response.status_code == 302
    assert AssistanceStandard.objects.filter(year=2020, dibao_monthly=700).exists()


def test_bad_standard_is_refused_and_nothing_saved(world, civil):
    before = AssistanceStandard.objects.count()
    response = civil.post(
        reverse("assistancestandard:add"),
        {"year": 2020, "area": world.district.pk, "dibao_monthly": "-5"},
    )
    assert response.status_code == 200  # the form again, with its error
    assert AssistanceStandard.objects.count() == before
    # Same year and area twice is refused too.
    response = civil.post(
        reverse("assistancestandard:add"),
        {"year": world.standard.year, "area": world.district.pk, "dibao_monthly": "900"},
    )
    assert AssistanceStandard.objects.count() == before


def test_civil_affairs_tunes_a_monitoring_threshold(world, civil):
    rule = MonitoringRule.objects.get(code="medical_expense")
    response = civil.post(
        reverse("monitoringrule:edit", args=[rule.pk]),
        {"code": rule.code, "params": '{"threshold": "30000"}', "active": "on"},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.params == {"threshold": "30000"}


@pytest.mark.parametrize(
    "role",
    [
        Role.STREET_OFFICIAL,
        Role.COMMUNITY_WORKER,
        Role.CHARITY_STAFF,
        Role.AGENCY_STAFF,
        Role.SOCIAL_WORKER,
        Role.VOLUNTEER,
        Role.APPLICANT,
        Role.AUDITOR,
        Role.DEPARTMENT_STAFF,
    ],
)
def test_other_roles_cannot_edit_reference_data(world, client, role):
    client.force_login(_admin_user(world.users[role]))
    for name in ("assistancestandard:index", "servicetype:index", "monitoringrule:index"):
        response = client.get(reverse(name))
        assert response.status_code in (302, 403), name
    before = AssistanceStandard.objects.count()
    client.post(
        reverse("assistancestandard:add"),
        {"year": 2019, "area": world.district.pk, "dibao_monthly": "600"},
    )
    assert AssistanceStandard.objects.count() == before
