"""Hours pages: the organiser's rotating check-in code (page and JSON), the volunteer's
check-in page, the records waiting for confirmation with their flags in Chinese, and
confirm / revoke — refused to the wrong role or organisation, fed bad input, and counted
for queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.models import Role
from tests.volunteers.test_opportunity_builders import at, opportunity, volunteer
from volunteers.models import ServiceRecord
from volunteers.services import (
    checkin_code_current,
    service_record_check_in,
    service_record_check_out,
    signup_create,
)

pytestmark = pytest.mark.django_db

MANAGER = Role.VOLUNTEER_MANAGER


def _body(response) -> str:
    return response.content.decode()


@pytest.fixture
def signed_up(world):
    opp = opportunity(world, starts_at=at(1, 9), hours=2)
    v = volunteer(world, name="周志愿")
    signup_create(volunteer=v, opportunity=opp)
    return v, opp


def _record(v, opp, *, minutes=120, late_by=timedelta(0)):
    start = opp.starts_at
    service_record_check_in(
        volunteer=v,
        opportunity=opp,
        code=checkin_code_current(opportunity=opp, at=start),
        at=start,
    )
    end = start + timedelta(minutes=minutes) + late_by
    return service_record_check_out(
        volunteer=v, opportunity=opp, code=checkin_code_current(opportunity=opp, at=end), at=end
    )


# --- The code page ------------------------------------------------------------------------


def test_organiser_sees_a_qr_and_the_digits(login, world, signed_up):
    _, opp = signed_up
    client = login(world.users[MANAGER])
    with time_machine.travel(opp.starts_at, tick=False):
        response = client.get(reverse("checkin-code", args=[opp.pk]))
        code = checkin_code_current(opportunity=opp)
    body = _body(response)
    assert response.status_code == 200
    assert "<svg" in body and code in body
    assert "volunteers_checkin.js" in body
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_code_json_for_the_refresh(login, world, signed_up):
    _, opp = signed_up
    client = login(world.users[MANAGER])
    with time_machine.travel(opp.starts_at, tick=False):
        data = client.get(reverse("checkin-code-json", args=[opp.pk])).json()
        assert data["code"] == checkin_code_current(opportunity=opp)
    assert data["url"].endswith(f"/checkin/{opp.pk}/?code={data['code']}")
    assert data["svg"].startswith("<svg") and data["refresh"] == 20


def test_code_of_a_cancelled_opportunity_is_not_given(login, world, signed_up):
    _, opp = signed_up
    client = login(world.users[MANAGER])
    client.post(reverse("opportunity-cancel", args=[opp.pk]), {"reason": "取消"})
    assert client.get(reverse("checkin-code-json", args=[opp.pk])).status_code == 409
    assert "<svg" not in _body(client.get(reverse("checkin-code", args=[opp.pk])))


@pytest.mark.parametrize("name", ["checkin-code", "checkin-code-json"])
def test_code_is_refused_to_volunteers_and_other_organisations(
    client, login, world, signed_up, name
):
    v, opp = signed_up
    url = reverse(name, args=[opp.pk])
    assert login(v.user).get(url).status_code == 403
    assert login(world.users[Role.APPLICANT]).get(url).status_code == 403
    assert login(world.users[Role.CHARITY_STAFF]).get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


# --- Check-in page ------------------------------------------------------------------------


def test_check_in_and_out_through_the_page(login, signed_up):
    v, opp = signed_up
    client = login(v.user)
    url = reverse("checkin", args=[opp.pk])
    with time_machine.travel(opp.starts_at, tick=False):
        code = checkin_code_current(opportunity=opp)
        response = client.get(url, {"code": code})
        assert f'value="{code}"' in _body(response)
        response = client.post(url, {"code": code, "action": "in"}, follow=True)
        assert "签到成功" in _body(response)
        assert 'value="out"' in _body(response)
    with time_machine.travel(opp.ends_at, tick=False):
        code = checkin_code_current(opportunity=opp)
        response = client.post(url, {"code": code, "action": "out"}, follow=True)
    assert "签退成功，本次服务 2 小时" in _body(response)
    record = ServiceRecord.objects.get()
    assert (record.status, record.hours) == ("pending", Decimal("2"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "12ab56", "action": "in"}, "请输入6位数字签到码"),
        ({"code": "", "action": "in"}, ""),
        ({"code": "123456", "action": "sideways"}, ""),
        ({"action": "in"}, ""),
    ],
)
def test_check_in_bad_input(login, signed_up, data, message):
    v, opp = signed_up
    with time_machine.travel(opp.starts_at):
        response = login(v.user).post(reverse("checkin", args=[opp.pk]), data)
    assert response.status_code == 400
    assert message in _body(response)
    assert not ServiceRecord.objects.exists()


def test_check_in_with_an_expired_code_says_so(login, signed_up):
    v, opp = signed_up
    old = checkin_code_current(opportunity=opp, at=opp.starts_at - timedelta(minutes=3))
    with time_machine.travel(opp.starts_at):
        response = login(v.user).post(
            reverse("checkin", args=[opp.pk]), {"code": old, "action": "in"}
        )
    assert response.status_code == 400
    assert "签到码无效或已过期" in _body(response)
    assert not ServiceRecord.objects.exists()


def test_check_in_without_a_place_is_409(login, world, signed_up):
    _, opp = signed_up
    stranger = volunteer(world)
    with time_machine.travel(opp.starts_at, tick=False):
        code = checkin_code_current(opportunity=opp)
        response = login(stranger.user).post(
            reverse("checkin", args=[opp.pk]), {"code": code, "action": "in"}
        )
    assert response.status_code == 409
    assert "没有该活动的正式报名" in _body(response)


@pytest.mark.parametrize("role", [MANAGER, Role.VOLUNTEER, Role.APPLICANT])
def test_check_in_page_is_for_registered_volunteers(login, world, signed_up, role):
    _, opp = signed_up
    assert login(world.users[role]).get(reverse("checkin", args=[opp.pk])).status_code == 403


# --- Records, confirm, revoke -------------------------------------------------------------


def test_pending_records_show_flags_in_chinese(login, world, signed_up):
    v, opp = signed_up
    _record(v, opp, late_by=timedelta(hours=3))
    response = login(world.users[MANAGER]).get(reverse("record-pending"))
    body = _body(response)
    assert response.status_code == 200
    assert "周志愿" in body
    assert "时长异常" in body and "签到或签退时间与活动时间相差2小时以上" in body
    assert "too_long" not in body


def test_record_filters(login, world, signed_up):
    v, opp = signed_up
    record = _record(v, opp)
    client = login(world.users[MANAGER])
    url = reverse("record-pending")
    assert [r.pk for r in client.get(url).context["page"].object_list] == [record.pk]
    assert client.get(url, {"status": "confirmed"}).context["page"].object_list == []
    assert client.get(url, {"flagged": "true"}).context["page"].object_list == []
    assert [r.pk for r in client.get(url, {"flagged": "false"}).context["page"].object_list] == [
        record.pk
    ]
    assert client.get(url, {"status": "nonsense"}).status_code == 400


def test_records_are_refused_to_non_organisers_and_hidden_from_other_organisations(
    login, world, signed_up
):
    v, opp = signed_up
    _record(v, opp)
    assert login(v.user).get(reverse("record-pending")).status_code == 403
    assert login(world.users[Role.APPLICANT]).get(reverse("record-pending")).status_code == 403
    other = login(world.users[Role.CHARITY_STAFF]).get(reverse("record-pending"))
    assert other.status_code == 200
    assert other.context["page"].object_list == []


def test_confirm_then_revoke_through_the_pages(login, world, signed_up):
    v, opp = signed_up
    record = _record(v, opp)
    client = login(world.users[MANAGER])
    response = client.post(reverse("record-confirm", args=[record.pk]), follow=True)
    assert "已确认 周志愿 的服务时长 2 小时" in _body(response)
    v.refresh_from_db()
    assert v.confirmed_hours == Decimal("2")

    url = reverse("record-revoke", args=[record.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "请填写原因" in _body(response)
    record.refresh_from_db()
    assert record.status == "confirmed"

    assert client.post(url, {"reason": "核实未到岗"}).status_code == 302
    record.refresh_from_db()
    v.refresh_from_db()
    assert (record.status, record.revoke_reason, v.confirmed_hours) == (
        "revoked",
        "核实未到岗",
        Decimal("0"),
    )


def test_other_organisation_cannot_confirm_or_revoke(login, world, signed_up):
    v, opp = signed_up
    record = _record(v, opp)
    other = login(world.users[Role.CHARITY_STAFF])
    assert other.post(reverse("record-confirm", args=[record.pk])).status_code == 404
    assert (
        other.post(reverse("record-revoke", args=[record.pk]), {"reason": "x"}).status_code == 404
    )
    volunteer_client = login(v.user)
    assert volunteer_client.post(reverse("record-confirm", args=[record.pk])).status_code == 403
    record.refresh_from_db()
    assert record.status == "pending"


def test_confirm_is_post_only(login, world, signed_up):
    v, opp = signed_up
    record = _record(v, opp)
    client = login(world.users[MANAGER])
    assert client.get(reverse("record-confirm", args=[record.pk])).status_code == 405


def test_record_list_query_count_is_constant(login, world):
    client = login(world.users[MANAGER])
    url = reverse("record-pending")

    def add(days):
        for day in days:
            opp = opportunity(world, starts_at=at(day, 9), hours=2)
            v = volunteer(world)
            signup_create(volunteer=v, opportunity=opp)
            _record(v, opp, late_by=timedelta(hours=3))

    add(range(1, 4))
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    add(range(4, 14))
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert len(response.context["page"].object_list) == 13
    assert len(large.captured_queries) == len(small.captured_queries)
