"""Opportunity and sign-up services: posting and its refusals, the waiting list that moves up
by itself, the rules against double booking, changes and cancellations with their notices,
and reminders sent once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from marketplace.models import Role
from tests.volunteers.test_opportunity_builders import at, opportunity, volunteer
from volunteers import tasks
from volunteers.exceptions import (
    InvalidState,
    NotPermitted,
    ScheduleConflict,
    TooManyTasks,
)
from volunteers.models import Opportunity, Signup, Skill
from volunteers.selectors.opportunities import signup_waitlist_position
from volunteers.services import (
    AlreadySignedUp,
    opportunity_cancel,
    opportunity_create,
    opportunity_remind,
    opportunity_update,
    signup_cancel,
    signup_create,
)

pytestmark = pytest.mark.django_db


def _status(signup) -> str:
    signup.refresh_from_db()
    return signup.status


# --- Posting ------------------------------------------------------------------------------


def test_manager_posts_an_open_opportunity_with_skills(world):
    skills = list(Skill.objects.filter(code__in=["visiting", "care"]))
    opp = opportunity(world, skills=skills)
    assert opp.status == Opportunity.Status.OPEN
    assert opp.street == world.street
    assert set(opp.skills.all()) == set(skills)


@pytest.mark.parametrize(
    "role", [Role.VOLUNTEER, Role.APPLICANT, Role.CHARITY_STAFF, Role.STREET_OFFICIAL]
)
def test_only_the_organisations_staff_may_post_for_it(world, role):
    # A charity's staff and another body's official hold organiser roles, but elsewhere.
    with pytest.raises(NotPermitted):
        opportunity(world, by=world.users[role])
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours": -1}, "ends_at"),
        ({"slots": 0}, "slots"),
        ({"starts_at": at(-1)}, "starts_at"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_opportunity_input_is_refused(world, change, field):
    with pytest.raises(ValidationError) as exc:
        opportunity(world, **change)
    assert field in exc.value.message_dict
    assert not Opportunity.objects.exists()


def test_unverified_organisation_cannot_post(world):
    manager = world.users[Role.VOLUNTEER_MANAGER]
    start = at(1)
    with pytest.raises(NotPermitted):
        opportunity_create(
            by=manager,
            organisation=world.pending_in_street,
            title="x",
            description="x",
            community=world.community,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            slots=1,
        )


# --- Sign-up and the waiting list ---------------------------------------------------------


def test_full_opportunity_waitlists_and_a_cancel_promotes_the_earliest(
    world, django_capture_on_commit_callbacks
):
    opp = opportunity(world, slots=1)
    first, second, third = (volunteer(world) for _ in range(3))
    s1 = signup_create(volunteer=first, opportunity=opp)
    s2 = signup_create(volunteer=second, opportunity=opp)
    s3 = signup_create(volunteer=third, opportunity=opp)
    assert [s1.status, s2.status, s3.status] == ["confirmed", "waitlisted", "waitlisted"]
    assert [signup_waitlist_position(signup=s) for s in (s1, s2, s3)] == [None, 1, 2]

    with django_capture_on_commit_callbacks(execute=True):
        signup_cancel(signup=s1, by=first.user)

    assert [_status(s) for s in (s1, s2, s3)] == ["cancelled", "confirmed", "waitlisted"]
    assert signup_waitlist_position(signup=s3) == 1
    opp.refresh_from_db()
    assert opp.confirmed_count == 1
    assert [m.to for m in mail.outbox] == [[second.user.email]]
    assert "候补转为正式报名" in mail.outbox[0].body


def test_promotion_skips_someone_who_now_has_a_clash(world):
    opp = opportunity(world, slots=1)
    first, busy, free = (volunteer(world) for _ in range(3))
    s1 = signup_create(volunteer=first, opportunity=opp)
    waiting_busy = signup_create(volunteer=busy, opportunity=opp)
    waiting_free = signup_create(volunteer=free, opportunity=opp)
    # Meanwhile the first on the list took a place in something at the same time.
    other = opportunity(world, starts_at=opp.starts_at + timedelta(minutes=30))
    signup_create(volunteer=busy, opportunity=other)

    signup_cancel(signup=s1, by=first.user)

    assert _status(waiting_busy) == "waitlisted"
    assert _status(waiting_free) == "confirmed"


def test_cancelling_a_waitlisted_signup_leaves_the_count(world):
    opp = opportunity(world, slots=1)
    a, b = volunteer(world), volunteer(world)
    signup_create(volunteer=a, opportunity=opp)
    waiting = signup_create(volunteer=b, opportunity=opp)
    signup_cancel(signup=waiting, by=b.user)
    opp.refresh_from_db()
    assert opp.confirmed_count == 1
    assert _status(waiting) == "cancelled"


def test_only_the_volunteer_cancels_and_only_before_the_start(world):
    opp = opportunity(world)
    a, b = volunteer(world), volunteer(world)
    signup = signup_create(volunteer=a, opportunity=opp)
    with pytest.raises(NotPermitted):
        signup_cancel(signup=signup, by=b.user)
    with time_machine.travel(opp.starts_at + timedelta(minutes=1)), pytest.raises(InvalidState):
        signup_cancel(signup=signup, by=a.user)
    assert _status(signup) == "confirmed"


def test_signup_after_the_start_is_refused(world):
    opp = opportunity(world)
    v = volunteer(world)
    late = opp.starts_at + timedelta(minutes=5)
    with time_machine.travel(late), pytest.raises(InvalidState) as exc:
        signup_create(volunteer=v, opportunity=opp)
    assert str(exc.value.message) == "活动已开始，不能报名"
    assert not Signup.objects.exists()


def test_signup_for_a_cancelled_opportunity_is_refused(world):
    opp = opportunity(world)
    opportunity_cancel(opportunity=opp, by=world.users[Role.VOLUNTEER_MANAGER], reason="天气")
    with pytest.raises(InvalidState):
        signup_create(volunteer=volunteer(world), opportunity=opp)


def test_a_second_live_signup_is_refused(world):
    opp = opportunity(world)
    v = volunteer(world)
    signup_create(volunteer=v, opportunity=opp)
    with pytest.raises(AlreadySignedUp):
        signup_create(volunteer=v, opportunity=opp)
    assert Signup.objects.count() == 1


def test_signing_up_again_after_cancelling_is_allowed(world):
    opp = opportunity(world)
    v = volunteer(world)
    first = signup_create(volunteer=v, opportunity=opp)
    signup_cancel(signup=first, by=v.user)
    again = signup_create(volunteer=v, opportunity=opp)
    assert again.status == "confirmed"


def test_overlapping_signup_is_refused(world):
    v = volunteer(world)
    a = opportunity(world, starts_at=at(2, 9), hours=2)
    b = opportunity(world, starts_at=at(2, 10), hours=2)
    signup_create(volunteer=v, opportunity=a)
    with pytest.raises(ScheduleConflict):
        signup_create(volunteer=v, opportunity=b)
    b.refresh_from_db()
    assert b.confirmed_count == 0
    assert Signup.objects.filter(volunteer=v).count() == 1


def test_back_to_back_opportunities_do_not_clash(world):
    v = volunteer(world)
    a = opportunity(world, starts_at=at(2, 9), hours=2)
    b = opportunity(world, starts_at=at(2, 11), hours=2)
    signup_create(volunteer=v, opportunity=a)
    assert signup_create(volunteer=v, opportunity=b).status == "confirmed"


def test_max_concurrent_unfinished_signups(world):
    v = volunteer(world, max_concurrent=1)
    a = opportunity(world, starts_at=at(2, 9))
    b = opportunity(world, starts_at=at(3, 9))
    signup_create(volunteer=v, opportunity=a)
    with pytest.raises(TooManyTasks):
        signup_create(volunteer=v, opportunity=b)
    # Once the first has ended it no longer counts.
    with time_machine.travel(a.ends_at + timedelta(minutes=1)):
        assert signup_create(volunteer=v, opportunity=b).status == "confirmed"


# --- Changes and cancellation -------------------------------------------------------------


def test_slots_cannot_drop_below_confirmed(world):
    opp = opportunity(world, slots=2)
    for _ in range(2):
        signup_create(volunteer=volunteer(world), opportunity=opp)
    with pytest.raises(ValidationError) as exc:
        opportunity_update(opportunity=opp, by=world.users[Role.VOLUNTEER_MANAGER], slots=1)
    assert "slots" in exc.value.message_dict
    opp.refresh_from_db()
    assert opp.slots == 2


def test_more_slots_move_the_waiting_list_up(world):
    opp = opportunity(world, slots=1)
    signup_create(volunteer=volunteer(world), opportunity=opp)
    waiting = signup_create(volunteer=volunteer(world), opportunity=opp)
    opportunity_update(opportunity=opp, by=world.users[Role.VOLUNTEER_MANAGER], slots=2)
    assert _status(waiting) == "confirmed"
    opp.refresh_from_db()
    assert opp.confirmed_count == 2


def test_new_times_are_copied_onto_signups_and_volunteers_are_told(
    world, django_capture_on_commit_callbacks
):
    opp = opportunity(world, slots=1)
    a, b = volunteer(world), volunteer(world)
    sa = signup_create(volunteer=a, opportunity=opp)
    sb = signup_create(volunteer=b, opportunity=opp)
    new_start = opp.starts_at + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        opportunity_update(
            opportunity=opp,
            by=world.users[Role.VOLUNTEER_MANAGER],
            starts_at=new_start,
            ends_at=new_start + timedelta(hours=3),
        )
    for signup in (sa, sb):
        signup.refresh_from_db()
        assert signup.starts_at == new_start
        assert signup.ends_at == new_start + timedelta(hours=3)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([a.user.email, b.user.email])
    assert all("有变更" in m.body for m in mail.outbox)


def test_new_times_that_clash_for_a_signed_up_volunteer_are_refused(world):
    v = volunteer(world)
    a = opportunity(world, starts_at=at(2, 9))
    b = opportunity(world, starts_at=at(2, 14))
    signup_create(volunteer=v, opportunity=a)
    signup_create(volunteer=v, opportunity=b)
    with pytest.raises(ScheduleConflict):
        opportunity_update(
            opportunity=b, by=world.users[Role.VOLUNTEER_MANAGER], starts_at=at(2, 10)
        )
    b.refresh_from_db()
    assert b.starts_at == at(2, 14)


def test_another_organisations_staff_cannot_edit_or_cancel(world):
    opp = opportunity(world)
    other = world.users[Role.CHARITY_STAFF]
    with pytest.raises(NotPermitted):
        opportunity_update(opportunity=opp, by=other, title="改名")
    with pytest.raises(NotPermitted):
        opportunity_cancel(opportunity=opp, by=other, reason="x")
    opp.refresh_from_db()
    assert (opp.title, opp.status) == ("社区助老探访", "open")


def test_cancel_needs_a_reason_then_cancels_every_signup_and_tells_them(
    world, django_capture_on_commit_callbacks
):
    opp = opportunity(world, slots=1)
    a, b = volunteer(world), volunteer(world)
    signup_create(volunteer=a, opportunity=opp)
    signup_create(volunteer=b, opportunity=opp)
    manager = world.users[Role.VOLUNTEER_MANAGER]
    with pytest.raises(ValidationError):
        opportunity_cancel(opportunity=opp, by=manager, reason="  ")
    assert Signup.objects.filter(status__in=Signup.LIVE).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        opportunity_cancel(opportunity=opp, by=manager, reason="暴雨预警")
    opp.refresh_from_db()
    assert (opp.status, opp.confirmed_count) == ("cancelled", 0)
    assert not Signup.objects.filter(status__in=Signup.LIVE).exists()
    assert len(mail.outbox) == 2
    assert all("暴雨预警" in m.body for m in mail.outbox)


def test_team_leader_posts_for_the_team(world):
    from volunteers.models import Team

    leader_user = world.users[Role.SOCIAL_WORKER]
    from tests import factories as f

    worker = f.social_worker(leader_user, world.station)
    team = Team.objects.create(
        name="明光路助老队", organisation=world.station, leader=worker, created_by=leader_user
    )
    opp = opportunity(world, by=leader_user, organisation=world.station, team=team)
    assert opp.team == team
    # Not for a team of another organisation.
    with pytest.raises(ValidationError):
        opportunity(world, by=leader_user, organisation=world.federation, team=team)


# --- Reminders ----------------------------------------------------------------------------


def test_reminders_go_out_once_for_signups_within_a_day(world):
    soon = opportunity(world, starts_at=at(0, 0) + timedelta(days=1, hours=1))
    later = opportunity(world, starts_at=at(4, 9))
    a, b, c = volunteer(world), volunteer(world), volunteer(world)
    signup_create(volunteer=a, opportunity=soon)
    signup_create(volunteer=b, opportunity=later)
    with time_machine.travel(soon.starts_at - timedelta(hours=23)):
        assert tasks.opportunity_remind() == 1
        assert tasks.opportunity_remind() == 0
        assert opportunity_remind() == 0
    assert [m.to for m in mail.outbox] == [[a.user.email]]
    assert "活动提醒" in mail.outbox[0].body
    assert Signup.objects.get(volunteer=a).reminded_at is not None
    assert Signup.objects.get(volunteer=b).reminded_at is None
    assert c  # no sign-up, no reminder


def test_waitlisted_and_cancelled_signups_get_no_reminder(world):
    opp = opportunity(world, slots=1)
    a, b = volunteer(world), volunteer(world)
    first = signup_create(volunteer=a, opportunity=opp)
    signup_create(volunteer=b, opportunity=opp)
    with time_machine.travel(opp.starts_at - timedelta(hours=2)):
        signup_cancel(signup=first, by=a.user)  # b moves up and is reminded instead
        assert opportunity_remind() == 1
    assert [m.to for m in mail.outbox if "活动提醒" in m.body] == [[b.user.email]]


def test_the_promoted_volunteers_open_page_hears_of_it(world, django_capture_on_commit_callbacks):
    from tests.listening import deliver

    opp = opportunity(world, slots=1)
    first, second = volunteer(world), volunteer(world)
    s1 = signup_create(volunteer=first, opportunity=opp)
    signup_create(volunteer=second, opportunity=opp)
    with django_capture_on_commit_callbacks() as callbacks:
        signup_cancel(signup=s1, by=first.user)
    received = deliver(callbacks, [first.user, second.user])
    assert received[first.user.pk] == []
    [event] = received[second.user.pk]
    assert event["event"] == "opportunity.promoted"
    assert event["opportunity"] == {"id": opp.pk}
    assert "候补转为正式报名" in event["message"]
