"""Emergency (急难) needs on a frozen clock: the response deadline, escalation to the street
and then to district civil affairs, each once, and the beat task that runs it."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings

from marketplace import tasks
from marketplace.models import Need, NeedEscalation, Role, ServiceType
from marketplace.services import MemberInput, NeedInput, case_register, need_escalate_overdue
from marketplace.services import need_transition as transition
from tests import factories as f
from tests.listening import deliver

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _at(hours=0, minutes=0):
    return time_machine.travel(T + timedelta(hours=hours, minutes=minutes), tick=False)


def _emergency(world, *, urgency=Need.Urgency.EMERGENCY, community=None, by=None):
    """Register a household with an emergency need at the current (frozen) time."""
    community = community or world.community
    by = by or (
        world.users[Role.COMMUNITY_WORKER]
        if community == world.community
        else world.community_worker2
    )
    return case_register(
        created_by=by,
        community=community,
        members=[
            MemberInput(name="钱某", id_number=f.resident_id(date(1975, 4, 4)), relationship="head")
        ],
        sensitive_consent_by="钱某",
        need=NeedInput(
            kind=Need.Kind.FUNDS,
            service_type=ServiceType.objects.get(code="temporary_emergency"),
            window_start=T.date(),
            window_end=T.date() + timedelta(days=7),
            urgency=urgency,
            amount=Decimal("3000"),
            public_description="家中突发火灾，急需临时救助。",
        ),
    ).need


def test_an_emergency_gets_a_deadline_24_hours_after_submission(world):
    with _at():
        need = _emergency(world)
    assert need.submitted_at == T
    assert need.response_deadline == T + timedelta(hours=24)
    with _at(23, 59):
        assert need.awaiting_response and not need.overdue
    with _at(24, 1):
        assert need.overdue


def test_a_non_emergency_has_no_deadline_and_never_escalates(world):
    with _at():
        need = _emergency(world, urgency=Need.Urgency.URGENT)
    assert need.response_deadline is None
    with _at(100):
        assert need_escalate_overdue() == 0


def test_escalation_to_the_street_then_the_district(world, django_capture_on_commit_callbacks):
    street_official = world.users[Role.STREET_OFFICIAL]
    civil_affairs = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    listeners = [street_official, world.street_official2, civil_affairs]
    with _at():
        need = _emergency(world)

    with _at(23, 59), django_capture_on_commit_callbacks() as callbacks:
        assert need_escalate_overdue() == 0
    need.refresh_from_db()
    assert need.escalation_level == 0 and not NeedEscalation.objects.exists()

    with _at(24, 1), django_capture_on_commit_callbacks() as callbacks:
        assert need_escalate_overdue() == 1
    need.refresh_from_db()
    assert need.escalation_level == 1
    (row,) = NeedEscalation.objects.filter(need=need)
    assert row.level == 1 and row.at == T + timedelta(hours=24, minutes=1)
    received = deliver(callbacks, listeners)
    assert [(p["event"], p["need"]) for p in received[street_official.pk]] == [
        ("need.escalated", {"id": need.pk, "level": 1})
    ]
    assert "街道" in received[street_official.pk][0]["message"]
    # Only the officials of the need's own street; the district is not told yet.
    assert received[world.street_official2.pk] == []
    assert received[civil_affairs.pk] == []

    with _at(30), django_capture_on_commit_callbacks() as callbacks:
        assert need_escalate_overdue() == 0  # running again changes nothing
    assert callbacks == []
    assert NeedEscalation.objects.count() == 1

    with _at(36, 1), django_capture_on_commit_callbacks() as callbacks:
        assert need_escalate_overdue() == 1
    need.refresh_from_db()
    assert need.escalation_level == 2
    assert list(NeedEscalation.objects.filter(need=need).values_list("level", flat=True)) == [1, 2]
    received = deliver(callbacks, listeners)
    assert [p["need"]["level"] for p in received[civil_affairs.pk]] == [2]
    assert "区民政局" in received[civil_affairs.pk][0]["message"]
    assert received[street_official.pk] == []

    with _at(72):
        assert need_escalate_overdue() == 0
    assert NeedEscalation.objects.count() == 2


def test_a_late_first_run_makes_both_levels_at_once(world):
    with _at():
        need = _emergency(world)
    with _at(40):
        assert need_escalate_overdue() == 2
    need.refresh_from_db()
    assert need.escalation_level == 2
    with _at(41):
        assert need_escalate_overdue() == 0


def test_each_need_escalates_to_its_own_street(world, django_capture_on_commit_callbacks):
    with _at():
        _emergency(world)
        other = _emergency(world, community=world.community2)
    with _at(24, 1), django_capture_on_commit_callbacks() as callbacks:
        assert need_escalate_overdue() == 2
    received = deliver(callbacks, [world.street_official2])
    assert [p["need"]["id"] for p in received[world.street_official2.pk]] == [other.pk]


@pytest.mark.parametrize("status", [Need.Status.MATCHED, Need.Status.CANCELLED])
def test_a_need_answered_before_the_deadline_never_escalates(world, status):
    official = world.users[Role.STREET_OFFICIAL]
    with _at():
        need = _emergency(world)
    with _at(10):
        need = transition(need=need, to=Need.Status.CONFIRMED, by=official)
        if status == Need.Status.MATCHED:
            need = transition(need=need, to=Need.Status.OPEN, by=official)
        need = transition(need=need, to=status, by=official, reason="已由慈善组织响应")
    for hours in (24, 37, 200):
        with _at(hours, 1):
            assert need_escalate_overdue() == 0
    need.refresh_from_db()
    assert need.escalation_level == 0 and not need.overdue
    assert not NeedEscalation.objects.exists()


def test_confirmed_and_open_still_await_a_response(world):
    official = world.users[Role.STREET_OFFICIAL]
    with _at():
        need = _emergency(world)
    with _at(2):
        need = transition(need=need, to=Need.Status.CONFIRMED, by=official)
        need = transition(need=need, to=Need.Status.OPEN, by=official)
    with _at(24, 1):
        assert need_escalate_overdue() == 1


def test_the_response_hours_come_from_settings(world, settings):
    settings.EMERGENCY_RESPONSE_HOURS = 2
    settings.EMERGENCY_DISTRICT_ESCALATION_HOURS = 1
    with _at():
        need = _emergency(world)
    assert need.response_deadline == T + timedelta(hours=2)
    with _at(1, 59):
        assert need_escalate_overdue() == 0
    with _at(2, 1):
        assert need_escalate_overdue() == 1
    with _at(3, 1):
        assert need_escalate_overdue() == 1
    need.refresh_from_db()
    assert need.escalation_level == 2


def test_the_beat_task_runs_the_escalation(world):
    with _at():
        need = _emergency(world)
    with _at(24, 1):
        result = tasks.emergency_escalate.delay()  # eager in tests, as in embedded mode
        assert result.get() == 1
        assert tasks.emergency_escalate.delay().get() == 0
    need.refresh_from_db()
    assert need.escalation_level == 1


def test_the_beat_schedule_names_both_tasks():
    from config.celery import app

    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "marketplace.tasks.emergency_escalate",
        "marketplace.tasks.monitoring_scan",
    } <= scheduled
    for name in scheduled:
        # Each app's tasks module registers its tasks when imported (the worker imports them
        # all at start); a scheduled name must resolve to a registered task of its module.
        import_module(name.rsplit(".", 1)[0])
        assert name in app.tasks, name
