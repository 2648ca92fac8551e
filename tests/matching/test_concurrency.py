"""Row locks of matching under concurrency, on the real PostgreSQL: many approvals of one
proposal make one transition, approvals sharing a person's last capacity do not both pass,
and concurrent starts over one street make one run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from marketplace.models import Need, NeedTransition
from matching.exceptions import InvalidState, RunBusy
from matching.models import Decision, MatchRun, Proposal
from matching.services import match_run_start, proposal_approve
from tests.matching.conftest import proposals_by_need, run_now
from volunteers.models import TeamMember, Volunteer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The PostgreSQL server allows 100 connections for everyone using it: the attempts run in
# waves of WAVE threads, each wave released at once by a barrier.
ATTEMPTS, WAVE = 100, 20


def _race(attempt, *, count: int, parties: int) -> list[str]:
    """Run `attempt(i)` `count` times on `parties` threads, each round started together;
    every thread closes its own connection."""
    barrier = threading.Barrier(parties)

    def run(i):
        try:
            barrier.wait(timeout=60)
            return attempt(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=parties) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def contested(seeded, matching_supply):
    """`matching_supply` after a street run: every need of the street waits for approval."""
    w = matching_supply
    w.run = run_now(by=w.official, area=w.street)
    w.proposals = proposals_by_need(w.run)
    return w


def test_concurrent_approvals_of_one_proposal_make_one_transition(contested):
    w = contested
    proposal = w.proposals[w.need_team.pk]

    def attempt(_):
        try:
            proposal_approve(proposal=proposal, by=w.official, note="同意")
            return "approved"
        except InvalidState:
            return "refused"

    outcomes = _race(attempt, count=ATTEMPTS, parties=WAVE)
    assert outcomes.count("approved") == 1
    assert outcomes.count("refused") == ATTEMPTS - 1
    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.APPROVED
    assert Decision.objects.filter(proposal=proposal).count() == 1
    assert (
        NeedTransition.objects.filter(need=w.need_team, to_status=Need.Status.MATCHED).count() == 1
    )
    # One team, each person in it once.
    members = TeamMember.objects.filter(team__need=w.need_team)
    assert members.count() == 3 and members.values("user").distinct().count() == 3


def test_approvals_sharing_a_persons_last_capacity_do_not_both_pass(contested):
    w = contested
    # 赵磊 is proposed for both street needs; from now on he takes one task at a time.
    Volunteer.objects.filter(pk=w.vol_near.pk).update(max_concurrent=1)
    proposals = [w.proposals[w.need_visit.pk], w.proposals[w.need_team.pk]]
    assert all(
        w.vol_near.pk in set(p.items.values_list("volunteer_id", flat=True)) for p in proposals
    )

    def attempt(i):
        try:
            proposal_approve(proposal=proposals[i], by=w.official)
            return "approved"
        except InvalidState as exc:
            assert "赵磊（已达同时服务上限）" in str(exc.message)
            return "refused"

    outcomes = _race(attempt, count=2, parties=2)
    assert sorted(outcomes) == ["approved", "refused"]
    assert Proposal.objects.filter(pk__in=[p.pk for p in proposals], status="approved").count() == 1


def test_concurrent_starts_over_one_street_make_one_run(seeded, matching_supply):
    w = matching_supply

    def attempt(_):
        try:
            match_run_start(requested_by=w.official, area=w.street)
            return "started"
        except RunBusy:
            return "busy"

    outcomes = _race(attempt, count=2, parties=2)
    assert sorted(outcomes) == ["busy", "started"]
    assert MatchRun.objects.count() == 1
