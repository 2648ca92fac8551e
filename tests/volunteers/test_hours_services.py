"""Hours: the rotating check-in code, check-in and check-out with hours and flags, records
added by hand, confirmation, revocation, and star levels that follow confirmed hours."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplace.models import Role
from tests import factories as f
from tests.volunteers.test_opportunity_builders import at, opportunity, volunteer
from volunteers.exceptions import CheckinCodeInvalid, InvalidState, NotPermitted
from volunteers.models import ServiceRecord, Team, TeamEvent
from volunteers.services import (
    checkin_code_current,
    service_record_add_manual,
    service_record_check_in,
    service_record_check_out,
    service_record_confirm,
    service_record_revoke,
    signup_create,
    volunteer_hours_refresh,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_up(world):
    """A volunteer with a confirmed place in a two-hour opportunity tomorrow at 9:00."""
    opp = opportunity(world, starts_at=at(1, 9), hours=2)
    v = volunteer(world)
    signup_create(volunteer=v, opportunity=opp)
    return v, opp


def _in(v, opp, when):
    return service_record_check_in(
        volunteer=v, opportunity=opp, code=checkin_code_current(opportunity=opp, at=when), at=when
    )


def _out(v, opp, when):
    return service_record_check_out(
        volunteer=v, opportunity=opp, code=checkin_code_current(opportunity=opp, at=when), at=when
    )


# --- The code -----------------------------------------------------------------------------


def test_code_is_six_digits_and_rotates(signed_up):
    _, opp = signed_up
    now = opp.starts_at
    code = checkin_code_current(opportunity=opp, at=now)
    assert len(code) == 6 and code.isdigit()
    codes = {
        checkin_code_current(opportunity=opp, at=now + timedelta(seconds=30 * i)) for i in range(4)
    }
    assert len(codes) > 1


def test_a_code_from_the_previous_step_is_still_accepted(signed_up):
    v, opp = signed_up
    shown = opp.starts_at
    record = service_record_check_in(
        volunteer=v,
        opportunity=opp,
        code=checkin_code_current(opportunity=opp, at=shown),
        at=shown + timedelta(seconds=30),
    )
    assert record.status == ServiceRecord.Status.OPEN


def test_an_expired_code_is_refused(signed_up):
    v, opp = signed_up
    old = checkin_code_current(opportunity=opp, at=opp.starts_at - timedelta(minutes=5))
    with time_machine.travel(opp.starts_at), pytest.raises(CheckinCodeInvalid) as exc:
        service_record_check_in(volunteer=v, opportunity=opp, code=old)
    assert "签到码无效或已过期" in str(exc.value.message)
    assert not ServiceRecord.objects.exists()


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", None])
def test_malformed_codes_are_refused(signed_up, code):
    v, opp = signed_up
    with time_machine.travel(opp.starts_at), pytest.raises(CheckinCodeInvalid):
        service_record_check_in(volunteer=v, opportunity=opp, code=code)
    assert not ServiceRecord.objects.exists()


def test_another_opportunitys_code_is_refused(world, signed_up):
    v, opp = signed_up
    other = opportunity(world, starts_at=opp.starts_at + timedelta(days=3))
    with pytest.raises(CheckinCodeInvalid):
        service_record_check_in(
            volunteer=v,
            opportunity=opp,
            code=checkin_code_current(opportunity=other, at=opp.starts_at),
            at=opp.starts_at,
        )


# --- Check-in window and rules ------------------------------------------------------------


def test_check_in_opens_an_hour_before_and_closes_at_the_end(signed_up):
    v, opp = signed_up
    with pytest.raises(InvalidState):
        _in(v, opp, opp.starts_at - timedelta(minutes=61))
    with pytest.raises(InvalidState):
        _in(v, opp, opp.ends_at + timedelta(minutes=1))
    assert _in(v, opp, opp.starts_at - timedelta(minutes=59)).status == "open"


def test_check_in_needs_a_confirmed_signup(world, signed_up):
    _, opp = signed_up
    stranger = volunteer(world)
    with pytest.raises(InvalidState):
        _in(stranger, opp, opp.starts_at)


def test_checking_in_twice_is_refused(signed_up):
    v, opp = signed_up
    _in(v, opp, opp.starts_at)
    with pytest.raises(InvalidState):
        _in(v, opp, opp.starts_at + timedelta(minutes=1))
    assert ServiceRecord.objects.count() == 1


def test_check_out_without_check_in_is_refused(signed_up):
    v, opp = signed_up
    with pytest.raises(InvalidState):
        _out(v, opp, opp.ends_at)


# --- Hours and flags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(127, Decimal("2.00")), (128, Decimal("2.25")), (60, Decimal("1.00")), (7, Decimal("0"))],
)
def test_hours_are_rounded_to_the_quarter(signed_up, minutes, hours):
    v, opp = signed_up
    _in(v, opp, opp.starts_at)
    record = _out(v, opp, opp.starts_at + timedelta(minutes=minutes))
    assert record.hours == hours
    assert record.status == ServiceRecord.Status.PENDING
    assert record.flags == []


def test_a_long_late_record_is_flagged_too_long_and_off_schedule(signed_up):
    v, opp = signed_up
    _in(v, opp, opp.starts_at)
    record = _out(v, opp, opp.ends_at + timedelta(hours=2, minutes=30))
    assert record.hours == Decimal("4.50")
    assert set(record.flags) == {"too_long", "off_schedule"}


def test_hours_are_capped_at_24(signed_up):
    v, opp = signed_up
    _in(v, opp, opp.starts_at)
    record = _out(v, opp, opp.starts_at + timedelta(hours=30))
    assert record.hours == Decimal("24")
    assert "too_long" in record.flags


def test_an_early_check_in_is_off_schedule_only_beyond_two_hours(signed_up):
    v, opp = signed_up
    _in(v, opp, opp.starts_at - timedelta(minutes=50))
    record = _out(v, opp, opp.ends_at)
    assert record.flags == []


def test_overlapping_records_are_flagged(world, signed_up):
    v, morning = signed_up  # 9:00–11:00
    afternoon = opportunity(world, starts_at=morning.ends_at + timedelta(hours=1))  # 12:00–14:00
    signup_create(volunteer=v, opportunity=afternoon)
    _in(v, morning, morning.starts_at)
    _in(v, afternoon, afternoon.starts_at - timedelta(minutes=5))
    record = _out(v, morning, afternoon.starts_at + timedelta(minutes=30))
    assert record.flags == ["overlap"]


def test_check_in_and_out_are_told_to_the_team_room(world):
    leader = world.users[Role.SOCIAL_WORKER]
    worker = f.social_worker(leader, world.station)
    team = Team.objects.create(
        name="助老队", organisation=world.station, leader=worker, created_by=leader
    )
    opp = opportunity(world, by=leader, organisation=world.station, team=team)
    v = volunteer(world, name="李志愿")
    signup_create(volunteer=v, opportunity=opp)
    _in(v, opp, opp.starts_at)
    _out(v, opp, opp.ends_at)
    events = list(TeamEvent.objects.filter(team=team, kind="checkin").order_by("pk"))
    assert [e.payload["action"] for e in events] == ["in", "out"]
    assert events[0].payload["user_id"] == v.user_id
    assert events[0].payload["name"] == "李志愿"
    assert events[0].payload["at"] == timezone.localtime(opp.starts_at).isoformat()


# --- Confirm, revoke, manual, stars -------------------------------------------------------


def _finished(v, opp, hours=2):
    _in(v, opp, opp.starts_at)
    return _out(v, opp, opp.starts_at + timedelta(hours=hours))


def test_confirm_adds_hours_and_revoke_takes_them_away(world, signed_up):
    v, opp = signed_up
    manager = world.users[Role.VOLUNTEER_MANAGER]
    record = _finished(v, opp)
    service_record_confirm(record=record, by=manager)
    v.refresh_from_db()
    assert v.confirmed_hours == Decimal("2")
    with pytest.raises(InvalidState):
        service_record_confirm(record=record, by=manager)

    with pytest.raises(ValidationError):
        service_record_revoke(record=record, by=manager, reason="")
    record.refresh_from_db()
    assert record.status == ServiceRecord.Status.CONFIRMED

    service_record_revoke(record=record, by=manager, reason="签退时间异常，经核实未到岗")
    record.refresh_from_db()
    v.refresh_from_db()
    assert record.status == ServiceRecord.Status.REVOKED
    assert record.revoke_reason == "签退时间异常，经核实未到岗"
    assert v.confirmed_hours == Decimal("0")


def test_a_pending_record_can_be_revoked_too(world, signed_up):
    v, opp = signed_up
    record = _finished(v, opp)
    service_record_revoke(record=record, by=world.users[Role.VOLUNTEER_MANAGER], reason="重复")
    record.refresh_from_db()
    assert record.status == ServiceRecord.Status.REVOKED


def test_only_the_organiser_confirms_and_never_their_own(world, signed_up):
    v, opp = signed_up
    record = _finished(v, opp)
    for outsider in (world.users[Role.CHARITY_STAFF], world.users[Role.VOLUNTEER], v.user):
        with pytest.raises(NotPermitted):
            service_record_confirm(record=record, by=outsider)
        with pytest.raises(NotPermitted):
            service_record_revoke(record=record, by=outsider, reason="x")
    record.refresh_from_db()
    assert record.status == ServiceRecord.Status.PENDING


def test_star_level_rises_at_100_confirmed_hours(world, django_capture_on_commit_callbacks):
    manager = world.users[Role.VOLUNTEER_MANAGER]
    v = volunteer(world)
    opportunities = [
        opportunity(world, starts_at=at(day, 6), hours=20, title=f"第{day}天")
        for day in (1, 2, 3, 4, 5)
    ]
    with time_machine.travel(at(7, 9)):
        records = [
            service_record_add_manual(
                by=manager,
                volunteer=v,
                opportunity=o,
                checked_in_at=o.starts_at,
                checked_out_at=o.ends_at,
                note="手机没电，现场登记",
            )
            for o in opportunities
        ]
        assert all(r.source == "manual" and "manual" in r.flags for r in records)
        for record in records[:4]:
            service_record_confirm(record=record, by=manager)
        v.refresh_from_db()
        assert (v.confirmed_hours, v.star_level) == (Decimal("80"), 0)
        with django_capture_on_commit_callbacks(execute=True):
            service_record_confirm(record=records[4], by=manager)
    v.refresh_from_db()
    assert (v.confirmed_hours, v.star_level) == (Decimal("100"), 1)
    assert [m.to for m in mail.outbox] == [[v.user.email]]
    assert "★" in mail.outbox[0].body and "100" in mail.outbox[0].body


def test_revoking_below_the_threshold_lowers_the_stars_silently(
    world, django_capture_on_commit_callbacks
):
    manager = world.users[Role.VOLUNTEER_MANAGER]
    v = volunteer(world)
    opportunities = [opportunity(world, starts_at=at(d, 6), hours=20) for d in range(1, 6)]
    with time_machine.travel(at(7, 9)):
        for o in opportunities:
            record = service_record_add_manual(
                by=manager,
                volunteer=v,
                opportunity=o,
                checked_in_at=o.starts_at,
                checked_out_at=o.ends_at,
                note="补录",
            )
            service_record_confirm(record=record, by=manager)
        with django_capture_on_commit_callbacks(execute=True):
            service_record_revoke(record=record, by=manager, reason="核实有误")
    v.refresh_from_db()
    assert (v.confirmed_hours, v.star_level) == (Decimal("80"), 0)
    assert mail.outbox == []


def test_manual_record_bad_input(world, signed_up):
    v, opp = signed_up
    manager = world.users[Role.VOLUNTEER_MANAGER]
    with time_machine.travel(opp.ends_at + timedelta(hours=1)):
        with pytest.raises(ValidationError) as exc:
            service_record_add_manual(
                by=manager,
                volunteer=v,
                opportunity=opp,
                checked_in_at=opp.ends_at,
                checked_out_at=opp.starts_at,
                note="",
            )
        assert set(exc.value.message_dict) == {"note", "checked_out_at"}
        with pytest.raises(ValidationError):
            service_record_add_manual(
                by=manager,
                volunteer=v,
                opportunity=opp,
                checked_in_at=opp.starts_at,
                checked_out_at=opp.ends_at + timedelta(hours=3),
                note="未来时间",
            )
        with pytest.raises(NotPermitted):
            service_record_add_manual(
                by=world.users[Role.CHARITY_STAFF],
                volunteer=v,
                opportunity=opp,
                checked_in_at=opp.starts_at,
                checked_out_at=opp.ends_at,
                note="x",
            )
    assert not ServiceRecord.objects.exists()


def test_refresh_recomputes_from_records(world, signed_up):
    v, opp = signed_up
    record = _finished(v, opp, hours=3)
    ServiceRecord.objects.filter(pk=record.pk).update(status="confirmed")
    assert volunteer_hours_refresh(volunteer=v).confirmed_hours == Decimal("3")
