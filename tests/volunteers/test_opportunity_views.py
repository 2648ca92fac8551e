"""Opportunity pages: the public list with its filters and constant query count, the detail
page for volunteers and organisers, posting and editing with bad input, sign-up and cancel,
the volunteer's own list, and the roster export — each refused to the wrong role or
organisation."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from marketplace.models import Role
from tests.volunteers.test_opportunity_builders import at, opportunity, volunteer
from volunteers.models import Opportunity, Signup, Skill
from volunteers.services import signup_create

pytestmark = pytest.mark.django_db

MANAGER = Role.VOLUNTEER_MANAGER
NOT_ORGANISERS = [Role.VOLUNTEER, Role.APPLICANT, Role.AUDITOR, Role.DEPARTMENT_STAFF]


def _body(response) -> str:
    return response.content.decode()


def _post_data(world, **overrides) -> dict:
    start = at(3, 9)
    data = {
        "organisation": world.federation.pk,
        "team": "",
        "title": "周末助老",
        "description": "帮助老人打扫卫生",
        "service_type": "",
        "community": world.community.pk,
        "address": "明光路1号",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "slots": "4",
        "skills": [Skill.objects.get(code="care").pk],
    }
    data.update(overrides)
    return data


# --- List ---------------------------------------------------------------------------------


def test_public_list_shows_open_future_opportunities(client, world):
    shown = opportunity(world, title="看得到的活动")
    cancelled = opportunity(world, title="已取消的活动")
    Opportunity.objects.filter(pk=cancelled.pk).update(status="cancelled")
    response = client.get(reverse("opportunity-list"))
    assert response.status_code == 200
    assert [o.pk for o in response.context["page"].object_list] == [shown.pk]
    assert "看得到的活动" in _body(response)


def test_list_filters(client, world):
    care = Skill.objects.get(code="care")
    a = opportunity(world, title="甲", skills=[care], starts_at=at(2, 9), slots=1)
    b = opportunity(world, title="乙", community=world.community2, starts_at=at(5, 9))
    signup_create(volunteer=volunteer(world), opportunity=a)
    url = reverse("opportunity-list")

    def pks(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return [o.pk for o in response.context["page"].object_list]

    assert pks(street=world.street2.pk) == [b.pk]
    assert pks(community=world.community.pk) == [a.pk]
    assert pks(skill=care.pk) == [a.pk]
    assert pks(has_slots="true") == [b.pk]
    assert pks(has_slots="false") == [a.pk]
    assert pks(date_from=at(3).date().isoformat()) == [b.pk]
    assert pks(date_to=at(3).date().isoformat()) == [a.pk]


@pytest.mark.parametrize(
    "params", [{"street": "abc"}, {"date_from": "2026-13-40"}, {"skill": "999999"}]
)
def test_bad_filter_values_give_400_and_no_rows(client, world, params):
    opportunity(world)
    response = client.get(reverse("opportunity-list"), params)
    assert response.status_code == 400
    assert response.context["page"].object_list == []


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", [None, Role.VOLUNTEER, MANAGER])
def test_list_query_count_is_constant(client, login, world, who):
    if who:
        client = login(world.users[who])
    skills = list(Skill.objects.all()[:2])
    for i in range(3):
        opportunity(world, title=f"活动{i}", skills=skills, starts_at=at(1 + i, 9))
    url = reverse("opportunity-list")
    small = _queries(client, url)
    for i in range(3, 13):
        opportunity(world, title=f"活动{i}", skills=skills, starts_at=at(1 + i, 9))
    assert _queries(client, url) == small


# --- Detail -------------------------------------------------------------------------------


def test_volunteer_signs_up_then_sees_their_place_and_cancels(login, world):
    opp = opportunity(world, slots=1)
    signup_create(volunteer=volunteer(world), opportunity=opp)
    v = volunteer(world)
    client = login(v.user)
    body = _body(client.get(opp.get_absolute_url()))
    assert "加入候补" in body

    response = client.post(reverse("signup-create", args=[opp.pk]), follow=True)
    assert "您已进入候补，当前排第 1 位" in _body(response)
    signup = Signup.objects.get(volunteer=v)
    assert signup.status == "waitlisted"
    body = _body(client.get(opp.get_absolute_url()))
    assert "您在候补名单第 1 位" in body

    response = client.post(reverse("signup-cancel", args=[signup.pk]))
    assert response.status_code == 302
    signup.refresh_from_db()
    assert signup.status == "cancelled"


def test_signup_after_the_start_shows_a_clear_message(login, world):
    opp = opportunity(world)
    v = volunteer(world)
    client = login(v.user)
    with time_machine.travel(opp.starts_at + timedelta(minutes=1)):
        response = client.post(reverse("signup-create", args=[opp.pk]))
    assert response.status_code == 409
    assert "活动已开始，不能报名" in _body(response)
    assert not Signup.objects.exists()


def test_overlapping_signup_page_says_why(login, world):
    v = volunteer(world)
    a = opportunity(world, starts_at=at(2, 9))
    b = opportunity(world, starts_at=at(2, 10))
    signup_create(volunteer=v, opportunity=a)
    response = login(v.user).post(reverse("signup-create", args=[b.pk]))
    assert response.status_code == 409
    assert "时间冲突" in _body(response)


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.APPLICANT, MANAGER])
def test_signup_needs_a_registered_volunteer(login, world, role):
    # The world's volunteer holds the role but has not registered; the others are not volunteers.
    opp = opportunity(world)
    response = login(world.users[role]).post(reverse("signup-create", args=[opp.pk]))
    assert response.status_code == 403
    assert not Signup.objects.exists()


def test_signup_is_post_only_and_needs_login(client, login, world):
    opp = opportunity(world)
    url = reverse("signup-create", args=[opp.pk])
    assert client.post(url).status_code == 302  # to the login page
    assert login(volunteer(world).user).get(url).status_code == 405


def test_someone_elses_signup_cannot_be_cancelled(login, world):
    opp = opportunity(world)
    owner = volunteer(world)
    signup = signup_create(volunteer=owner, opportunity=opp)
    response = login(volunteer(world).user).post(reverse("signup-cancel", args=[signup.pk]))
    assert response.status_code == 404
    signup.refresh_from_db()
    assert signup.status == "confirmed"


def test_roster_with_masked_phones_for_organisers_only(client, login, world):
    opp = opportunity(world)
    v = volunteer(world, name="赵志愿")
    signup_create(volunteer=v, opportunity=opp)
    body = _body(login(world.users[MANAGER]).get(opp.get_absolute_url()))
    assert 'data-testid="roster"' in body
    assert "赵志愿" in body and v.phone_masked in body
    assert "出示签到码" in body

    for user in (v.user, world.users[Role.CHARITY_STAFF]):
        body = _body(login(user).get(opp.get_absolute_url()))
        assert 'data-testid="roster"' not in body
        assert v.phone_masked not in body
    client.logout()
    body = _body(client.get(opp.get_absolute_url()))
    assert 'data-testid="roster"' not in body


def test_detail_of_missing_opportunity_is_404(client, world):
    assert client.get(reverse("opportunity-detail", args=[999999])).status_code == 404


# --- Posting and editing ------------------------------------------------------------------


def test_manager_posts_an_opportunity(login, world):
    client = login(world.users[MANAGER])
    assert client.get(reverse("opportunity-create")).status_code == 200
    response = client.post(reverse("opportunity-create"), _post_data(world))
    opp = Opportunity.objects.get()
    assert response.status_code == 302 and response.url == opp.get_absolute_url()
    assert (opp.title, opp.slots, opp.organisation) == ("周末助老", 4, world.federation)
    assert list(opp.skills.values_list("code", flat=True)) == ["care"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends_at": at(3, 8).strftime("%Y-%m-%dT%H:%M")}, "结束时间应晚于开始时间"),
        ({"slots": "0"}, ""),
        ({"slots": "abc"}, ""),
        ({"starts_at": "明天"}, ""),
        ({"title": ""}, ""),
        ({"community": "street"}, ""),
        ({"organisation": "office"}, ""),
    ],
)
def test_posting_bad_input_changes_nothing(login, world, overrides, message):
    if overrides.get("community") == "street":
        overrides = {"community": world.street.pk}  # a street is not a community
    if overrides.get("organisation") == "office":
        overrides = {"organisation": world.office.pk}  # not the manager's organisation
    response = login(world.users[MANAGER]).post(
        reverse("opportunity-create"), _post_data(world, **overrides)
    )
    assert response.status_code == 400
    assert message in _body(response)
    assert not Opportunity.objects.exists()


def test_posting_in_the_past_is_refused(login, world):
    past = at(-1, 9)
    response = login(world.users[MANAGER]).post(
        reverse("opportunity-create"),
        _post_data(
            world,
            starts_at=past.strftime("%Y-%m-%dT%H:%M"),
            ends_at=(past + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        ),
    )
    assert response.status_code == 400
    assert "开始时间应晚于现在" in _body(response)


@pytest.mark.parametrize("role", NOT_ORGANISERS)
def test_non_organisers_cannot_post(login, world, role):
    client = login(world.users[role])
    assert client.get(reverse("opportunity-create")).status_code == 403
    assert client.post(reverse("opportunity-create"), _post_data(world)).status_code == 403
    assert not Opportunity.objects.exists()


def test_edit_changes_slots_and_refuses_below_confirmed(login, world):
    opp = opportunity(world, slots=3)
    for _ in range(2):
        signup_create(volunteer=volunteer(world), opportunity=opp)
    client = login(world.users[MANAGER])
    assert client.get(reverse("opportunity-edit", args=[opp.pk])).status_code == 200
    data = _post_data(
        world,
        starts_at=timezone.localtime(opp.starts_at).strftime("%Y-%m-%dT%H:%M"),
        ends_at=timezone.localtime(opp.ends_at).strftime("%Y-%m-%dT%H:%M"),
    )
    response = client.post(reverse("opportunity-edit", args=[opp.pk]), {**data, "slots": "1"})
    assert response.status_code == 400
    assert "招募人数不能少于已报名人数" in _body(response)
    opp.refresh_from_db()
    assert opp.slots == 3
    response = client.post(reverse("opportunity-edit", args=[opp.pk]), {**data, "slots": "6"})
    assert response.status_code == 302
    opp.refresh_from_db()
    assert (opp.slots, opp.title) == (6, "周末助老")


def test_other_organisations_staff_get_404_and_volunteers_403_on_organiser_pages(login, world):
    opp = opportunity(world)
    names = ["opportunity-edit", "opportunity-cancel", "opportunity-roster-export"]
    other = login(world.users[Role.CHARITY_STAFF])
    for name in names:
        assert other.get(reverse(name, args=[opp.pk])).status_code == 404
    assert (
        other.post(reverse("opportunity-cancel", args=[opp.pk]), {"reason": "x"}).status_code == 404
    )
    v = login(volunteer(world).user)
    for name in names:
        assert v.get(reverse(name, args=[opp.pk])).status_code == 403
    opp.refresh_from_db()
    assert opp.status == "open"


def test_cancel_needs_a_reason(login, world):
    opp = opportunity(world)
    client = login(world.users[MANAGER])
    url = reverse("opportunity-cancel", args=[opp.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "请填写原因" in _body(response)
    opp.refresh_from_db()
    assert opp.status == "open"
    assert client.post(url, {"reason": "场地临时关闭"}).status_code == 302
    opp.refresh_from_db()
    assert opp.status == "cancelled"


# --- The volunteer's own list -------------------------------------------------------------


def test_my_opportunities_shows_places_and_is_for_volunteers(login, world):
    full = opportunity(world, slots=1, title="满员活动")
    signup_create(volunteer=volunteer(world), opportunity=full)
    v = volunteer(world)
    signup_create(volunteer=v, opportunity=full)
    signup_create(volunteer=v, opportunity=opportunity(world, title="另一项", starts_at=at(4)))
    response = login(v.user).get(reverse("my-opportunities"))
    body = _body(response)
    assert response.status_code == 200
    assert "满员活动" in body and "候补第 1 位" in body and "另一项" in body
    for role in (MANAGER, Role.APPLICANT, Role.VOLUNTEER):
        assert login(world.users[role]).get(reverse("my-opportunities")).status_code == 403


def test_my_opportunities_query_count_is_constant(login, world):
    v = volunteer(world, max_concurrent=10)
    client = login(v.user)
    for day in range(1, 3):
        opp = opportunity(world, starts_at=at(day), slots=1)
        signup_create(volunteer=volunteer(world), opportunity=opp)
        signup_create(volunteer=v, opportunity=opp)
    small = _queries(client, reverse("my-opportunities"))
    for day in range(3, 9):
        opp = opportunity(world, starts_at=at(day), slots=1)
        signup_create(volunteer=volunteer(world), opportunity=opp)
        signup_create(volunteer=v, opportunity=opp)
    assert _queries(client, reverse("my-opportunities")) == small


# --- Export -------------------------------------------------------------------------------


def test_roster_export_has_masked_values_only(login, world):
    opp = opportunity(world, slots=1)
    a, b = volunteer(world, name="钱一"), volunteer(world, name="孙二")
    signup_create(volunteer=a, opportunity=opp)
    signup_create(volunteer=b, opportunity=opp)
    response = login(world.users[MANAGER]).get(reverse("opportunity-roster-export", args=[opp.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "身份证号码", "手机号码")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("钱一", a.id_masked, a.phone_masked, "已报名", None),
        ("孙二", b.id_masked, b.phone_masked, "候补中", 1),
    ]
    assert "*" in a.id_masked
