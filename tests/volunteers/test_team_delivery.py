"""Delivered units from team work: the confirmed service records of a contract team's
opportunities become delivery records once each (hours or one unit), only for the
contracted agency's staff, and never twice, even when two calls race."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Contract, DeliveryRecord, Milestone, Role
from tests import factories as f
from tests import procurement as P
from volunteers.models import Opportunity, ServiceRecord
from volunteers.services.delivery import team_delivery_log
from volunteers.services.teams import team_create

_seq = itertools.count(1)


def build(world, *, unit: str = "visit") -> SimpleNamespace:
    """A contract of a fresh agency, a team of that agency delivering it, and a past
    opportunity of the team with three volunteers' records (two confirmed)."""
    item = P.catalogue_item(unit=unit)
    tender = P.tender(world, state="closed", item=item)
    agency = P.agency(world.street)
    contract = P.contract(world, tender.lots.get(), agency)
    leader = f.social_worker(agency.worker_users[0], agency, real_name="王社工")
    team = team_create(by=agency.staff_user, name="探访服务队", leader=leader, contract=contract)
    opportunity = opportunity_for(world, team, agency)
    records = [
        record(world, opportunity, hours="2.50"),
        record(world, opportunity, hours="1.00"),
        record(world, opportunity, hours="3.00", status=ServiceRecord.Status.PENDING),
    ]
    milestone = contract.milestones.get(position=1)
    return SimpleNamespace(
        contract=contract,
        agency=agency,
        team=team,
        opportunity=opportunity,
        records=records,
        milestone=milestone,
    )


def opportunity_for(world, team, agency, title="上门探访独居老人"):
    """A finished opportunity of the team (as a row: it lies in the past)."""
    start = timezone.now() - timedelta(days=3)
    return Opportunity.objects.create(
        organisation=agency,
        team=team,
        title=title,
        description="探访",
        community=world.community,
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        slots=5,
        status=Opportunity.Status.FINISHED,
        created_by=agency.staff_user,
    )


def record(world, opportunity, *, hours: str, status=ServiceRecord.Status.CONFIRMED):
    n = next(_seq)
    user = f.user(f"tdv{n}", Role.VOLUNTEER, world.federation)
    volunteer = f.volunteer(user, world.community, real_name=f"志愿者{n}")
    return ServiceRecord.objects.create(
        volunteer=volunteer,
        opportunity=opportunity,
        status=status,
        checked_in_at=opportunity.starts_at,
        checked_out_at=opportunity.starts_at + timedelta(hours=float(hours)),
        hours=Decimal(hours),
    )


@pytest.mark.django_db
def test_confirmed_records_become_one_unit_each(world):
    s = build(world)
    made = team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    assert len(made) == 2
    assert {r.source_ref for r in made} == {f"servicerecord:{r.pk}" for r in s.records[:2]}
    for r in made:
        assert r.source == DeliveryRecord.Source.TEAM
        assert r.units == Decimal("1")
        assert r.description == "上门探访独居老人"
        assert r.delivered_on == timezone.localdate(s.opportunity.starts_at)
        assert r.milestone == s.milestone
        assert not r.evidence


@pytest.mark.django_db
def test_hours_milestone_counts_hours(world):
    s = build(world, unit="hour")
    assert s.milestone.unit == "hour"
    made = team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    assert sorted(r.units for r in made) == [Decimal("1.00"), Decimal("2.50")]


@pytest.mark.django_db
def test_second_call_logs_nothing_and_new_confirmations_follow(world):
    s = build(world)
    team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    assert team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user) == []
    # Logged once, even towards another milestone.
    other = s.contract.milestones.get(position=2)
    assert team_delivery_log(team=s.team, milestone=other, by=s.agency.staff_user) == []
    ServiceRecord.objects.filter(pk=s.records[2].pk).update(status=ServiceRecord.Status.CONFIRMED)
    made = team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    assert [r.source_ref for r in made] == [f"servicerecord:{s.records[2].pk}"]
    assert DeliveryRecord.objects.count() == 3


@pytest.mark.django_db
def test_records_of_other_teams_are_not_counted(world):
    s = build(world)
    other = build(world)
    made = team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    assert {r.source_ref for r in made}.isdisjoint({f"servicerecord:{r.pk}" for r in other.records})


@pytest.mark.django_db
def test_refusals_change_nothing(world):
    s = build(world)
    other = build(world)
    refusals = [
        # Someone who is not the agency's staff.
        (NotPermitted, {"by": world.users[Role.CIVIL_AFFAIRS_OFFICIAL]}),
        (NotPermitted, {"by": s.agency.worker_users[0]}),
        (NotPermitted, {"by": other.agency.staff_user}),
        # Another agency's team on this contract's milestone.
        (NotPermitted, {"team": other.team, "by": other.agency.staff_user}),
        # This agency's team on another contract.
        (NotPermitted, {"milestone": other.milestone}),
    ]
    for error, overrides in refusals:
        values = {"team": s.team, "milestone": s.milestone, "by": s.agency.staff_user}
        values.update(overrides)
        with pytest.raises(error):
            team_delivery_log(**values)
    assert not DeliveryRecord.objects.exists()


@pytest.mark.django_db
def test_team_not_of_this_contract_is_refused(world):
    s = build(world)
    leader = f.social_worker(s.agency.worker_users[1], s.agency, real_name="赵社工")
    plain = team_create(by=s.agency.staff_user, name="普通服务队", leader=leader)
    opportunity_for(world, plain, s.agency)
    with pytest.raises(ValidationError) as exc:
        team_delivery_log(team=plain, milestone=s.milestone, by=s.agency.staff_user)
    assert "team" in exc.value.message_dict


@pytest.mark.django_db
def test_closed_milestone_or_contract_is_refused(world):
    s = build(world)
    Milestone.objects.filter(pk=s.milestone.pk).update(status=Milestone.Status.SUBMITTED)
    with pytest.raises(InvalidState):
        team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
    Contract.objects.filter(pk=s.contract.pk).update(status=Contract.Status.TERMINATED)
    other = s.contract.milestones.get(position=2)
    with pytest.raises(InvalidState):
        team_delivery_log(team=s.team, milestone=other, by=s.agency.staff_user)
    assert not DeliveryRecord.objects.exists()


@pytest.mark.django_db
def test_team_create_refuses_contract_of_another_agency(world):
    s = build(world)
    other = P.agency(world.street)
    leader = f.social_worker(other.worker_users[0], other, real_name="钱社工")
    with pytest.raises(ValidationError) as exc:
        team_create(by=other.staff_user, name="错配团队", leader=leader, contract=s.contract)
    assert "contract" in exc.value.message_dict


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_count_each_record_once(seeded, world):
    s = build(world)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(
                team_delivery_log(team=s.team, milestone=s.milestone, by=s.agency.staff_user)
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(len(r) for r in results) == 2
    assert DeliveryRecord.objects.count() == 2
