"""No double booking under real concurrency, on PostgreSQL: sign-ups racing for the last
slot, one volunteer racing into two overlapping opportunities, and the exclusion constraint
refusing overlapping confirmed sign-ups written past the services."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction

from tests.volunteers.test_opportunity_builders import at, opportunity, volunteer
from volunteers.exceptions import DomainError
from volunteers.models import Opportunity, Signup
from volunteers.services import signup_create

pytestmark = pytest.mark.postgres


def _race(calls):
    """Run the calls at the same moment, each in its own thread and connection; return what
    each returned (a sign-up status) or the code of the DomainError it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call().status
        except DomainError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.django_db(transaction=True)
def test_twenty_volunteers_racing_for_the_last_slot(world):
    opp = opportunity(world, slots=2)
    signup_create(volunteer=volunteer(world), opportunity=opp)
    racers = [volunteer(world) for _ in range(20)]

    outcomes = _race([lambda v=v: signup_create(volunteer=v, opportunity=opp) for v in racers])

    assert outcomes.count("confirmed") == 1
    assert outcomes.count("waitlisted") == 19
    opp = Opportunity.objects.get(pk=opp.pk)
    assert opp.confirmed_count == 2
    assert Signup.objects.filter(opportunity=opp, status="confirmed").count() == 2
    assert Signup.objects.filter(opportunity=opp, status="waitlisted").count() == 19


@pytest.mark.django_db(transaction=True)
def test_one_volunteer_racing_into_two_overlapping_opportunities(world):
    v = volunteer(world)
    first = opportunity(world, starts_at=at(2, 9), hours=2)
    second = opportunity(world, starts_at=at(2, 10), hours=2)

    outcomes = _race(
        [
            lambda: signup_create(volunteer=v, opportunity=first),
            lambda: signup_create(volunteer=v, opportunity=second),
        ]
    )

    assert sorted(outcomes) == ["confirmed", "schedule_conflict"]
    assert Signup.objects.filter(volunteer=v, status="confirmed").count() == 1
    counts = sorted(Opportunity.objects.values_list("confirmed_count", flat=True))
    assert counts == [0, 1]


@pytest.mark.django_db
def test_exclusion_constraint_refuses_overlapping_confirmed_signups(world):
    v = volunteer(world)
    first = opportunity(world, starts_at=at(2, 9), hours=2)
    second = opportunity(world, starts_at=at(2, 10), hours=2)
    Signup.objects.create(
        volunteer=v,
        opportunity=first,
        status="confirmed",
        starts_at=first.starts_at,
        ends_at=first.ends_at,
    )
    with pytest.raises(IntegrityError, match="signup_no_overlap"), transaction.atomic():
        Signup.objects.create(
            volunteer=v,
            opportunity=second,
            status="confirmed",
            starts_at=second.starts_at,
            ends_at=second.ends_at,
        )
    # Waitlisted rows hold no time, and touching ranges ([9,11) and [11,13)) do not overlap.
    Signup.objects.create(
        volunteer=v,
        opportunity=second,
        status="waitlisted",
        starts_at=second.starts_at,
        ends_at=second.ends_at,
    )
    third = opportunity(world, starts_at=first.ends_at, hours=2)
    Signup.objects.create(
        volunteer=v,
        opportunity=third,
        status="confirmed",
        starts_at=third.starts_at,
        ends_at=third.ends_at,
    )


@pytest.mark.django_db
def test_overbooking_check_constraint(world):
    opp = opportunity(world, slots=1)
    with pytest.raises(IntegrityError, match="opportunity_not_overbooked"), transaction.atomic():
        Opportunity.objects.filter(pk=opp.pk).update(confirmed_count=2)
