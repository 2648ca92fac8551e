"""Matching services on the database: runs (start, execute, progress, refusals, nightly,
emergencies), approval under the authority rules, and the providers' answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from charity.models import Disbursement
from marketplace.models import Need, Role
from marketplace.services import need_transition
from matching import scoring
from matching.exceptions import InvalidState, MatchingError, NotPermitted, RunBusy
from matching.models import ApprovalRule, Decision, Level, MatchRun, Proposal, ProposalItem
from matching.services import (
    approval_rule_for,
    match_emergency_start,
    match_need_start,
    match_run_execute,
    match_run_may_start,
    match_run_nightly,
    match_run_start,
    proposal_approve,
    proposal_item_may_respond,
    proposal_item_respond,
    proposal_may_decide,
    proposal_redo,
    proposal_reject,
)
from matching.snapshot import snapshot_build
from tests.listening import deliver
from tests.matching.conftest import proposals_by_need, run_now
from volunteers.models import Team, TeamMember, Volunteer

pytestmark = pytest.mark.django_db


def _state(*proposals) -> tuple:
    """What a refused decision must leave as it was."""
    return (
        tuple(Proposal.objects.filter(pk__in=[p.pk for p in proposals]).values_list("status")),
        tuple(
            ProposalItem.objects.filter(proposal__in=proposals)
            .order_by("pk")
            .values_list("response", flat=True)
        ),
        tuple(
            Need.objects.filter(pk__in=[p.need_id for p in proposals])
            .order_by("pk")
            .values_list("status", flat=True)
        ),
        Decision.objects.count(),
        Team.objects.count(),
        TeamMember.objects.filter(active=True).count(),
        MatchRun.objects.count(),
    )


def _item(proposal: Proposal, **provider) -> ProposalItem:
    return proposal.items.select_related("volunteer", "social_worker", "project").get(**provider)


def _volunteer_ids(proposal: Proposal) -> set[int]:
    return {i.volunteer_id for i in proposal.items.all() if i.volunteer_id}


# --- Runs ---------------------------------------------------------------------------------


def test_a_run_stores_proposals_with_its_figures(
    matching_world, django_capture_on_commit_callbacks
):
    w = matching_world
    expected = snapshot_build(area=w.district).problem
    with django_capture_on_commit_callbacks(execute=True):
        run = match_run_start(requested_by=w.civil, area=w.district)
        assert run.status == MatchRun.Status.QUEUED  # executed at commit, not before
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE and run.progress == 100 and not run.error
    assert run.kind == MatchRun.Kind.MANUAL and run.requested_by == w.civil
    assert run.needs_count == 4
    assert run.slots_count == 6  # 1 + (1 social worker + 2 volunteers) + 1 + 1 charity place
    assert run.providers_count == len(expected.providers) == 7
    assert run.edges_count == len(expected.edges)
    assert run.proposals_count == 4 == run.proposals.count()
    assert run.solver_status == "OPTIMAL" and run.method == "min_cost_flow"
    assert run.bound == run.objective and run.gap == 0.0
    assert run.seconds > 0 and run.started_at and run.finished_at
    assert set(run.timings) == {"snapshot", "solve", "store"}
    proposals = proposals_by_need(run)
    assert set(proposals) == {w.need_visit.pk, w.need_team.pk, w.need2.pk, w.need_funds.pk}
    # Every slot is filled, so the objective is the sum of the proposals' costs.
    assert run.objective == sum(p.cost for p in proposals.values())
    for proposal in proposals.values():
        items = list(proposal.items.all())
        assert proposal.status == Proposal.Status.PENDING
        assert proposal.slots_filled == len(items) == proposal.slots_wanted
        assert proposal.cost == sum(i.cost for i in items)
        assert proposal.level == Level.STREET and not proposal.cross_street
        assert proposal.street_id == proposal.need.street_id
        for item in items:
            assert item.response == ProposalItem.Response.PROPOSED
            assert item.cost == sum(item.components.values()) and item.reasons
    team = proposals[w.need_team.pk]
    assert sorted(i.role for i in team.items.all()) == ["social_worker", "volunteer", "volunteer"]
    assert _volunteer_ids(team) == {w.vol_near.pk, w.vol_near2.pk}
    assert _volunteer_ids(proposals[w.need2.pk]) == {w.vol_far.pk}
    [charity] = proposals[w.need_funds.pk].items.all()
    assert charity.project_id == w.project.pk and charity.role == ProposalItem.Role.CHARITY
    # Executing again does nothing: the run is no longer queued.
    assert match_run_execute(run_id=run.pk) is None
    assert Proposal.objects.count() == 4


def test_progress_reaches_whoever_started_the_run(
    matching_world, django_capture_on_commit_callbacks
):
    w = matching_world
    with django_capture_on_commit_callbacks() as callbacks:
        run = match_run_start(requested_by=w.official, area=w.street)
    received = deliver(callbacks, [w.official, w.official2])
    progress = [p for p in received[w.official.pk] if p["event"] == "match_run.progress"]
    assert [p["run"]["progress"] for p in progress] == [5, 40, 75, 100]
    assert all(p["run"]["id"] == run.pk for p in progress)
    assert progress[0]["run"]["status"] == "running"
    assert progress[-1]["run"]["status"] == "done"
    assert progress[-1]["run"]["proposals"] == 3  # the street's three needs
    assert progress[-1]["run"]["stage"] == "已完成"
    assert not [p for p in received[w.official2.pk] if p["event"] == "match_run.progress"]
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE and run.proposals_count == 3


def test_a_run_over_an_overlapping_area_is_refused_while_one_is_active(matching_world):
    w = matching_world
    first = match_run_start(requested_by=w.official, area=w.street)  # queued (no commit)
    for by, area in ((w.official, w.street), (w.civil, w.street), (w.civil, w.district)):
        with pytest.raises(RunBusy) as exc:
            match_run_start(requested_by=by, area=area)
        assert exc.value.code == "run_busy"
        assert str(first.pk) in str(exc.value.message)
    assert MatchRun.objects.count() == 1
    # Another street is another area.
    other = match_run_start(requested_by=w.official2, area=w.street2)
    assert MatchRun.objects.count() == 2
    # Once both are done, the district may run; then the streets wait for it.
    for run in (first, other):
        match_run_execute(run_id=run.pk)
    district = match_run_start(requested_by=w.civil, area=w.district)
    for by, area in ((w.official, w.street), (w.official2, w.street2)):
        with pytest.raises(RunBusy):
            match_run_start(requested_by=by, area=area)
    assert MatchRun.objects.filter(status=MatchRun.Status.QUEUED).get() == district


def test_who_may_start_a_run(matching_world):
    w = matching_world
    assert match_run_may_start(user=w.official, area=w.street)
    assert not match_run_may_start(user=w.official2, area=w.street)
    assert not match_run_may_start(user=w.official, area=w.district)
    assert match_run_may_start(user=w.civil, area=w.district)
    assert match_run_may_start(user=w.civil, area=w.street2)
    for user, area in (
        (w.official2, w.street),
        (w.official, w.district),
        (w.users[Role.COMMUNITY_WORKER], w.street),
        (w.users[Role.SOCIAL_WORKER], w.street),
    ):
        with pytest.raises(NotPermitted):
            match_run_start(requested_by=user, area=area)
    with pytest.raises(MatchingError) as exc:
        match_run_start(requested_by=w.civil, area=w.community)
    assert exc.value.code == "bad_area"
    assert MatchRun.objects.count() == 0


def test_the_nightly_run_is_skipped_while_another_is_busy(matching_world):
    w = matching_world
    busy = match_run_start(requested_by=w.official, area=w.street)
    assert match_run_nightly() is None
    assert list(MatchRun.objects.all()) == [busy]
    match_run_execute(run_id=busy.pk)
    nightly = match_run_nightly()
    assert nightly.kind == MatchRun.Kind.NIGHTLY and nightly.area == w.district
    assert nightly.requested_by is None and nightly.status == MatchRun.Status.QUEUED
    done = match_run_execute(run_id=nightly.pk)
    assert done.status == MatchRun.Status.DONE
    # The street's needs wait for decisions: only need2 of the other street is proposed.
    assert set(done.proposals.values_list("need_id", flat=True)) == {w.need2.pk}


def test_an_emergency_gets_a_proposal_when_it_opens(
    matching_world, make_need, django_capture_on_commit_callbacks
):
    w = matching_world
    need = make_need(
        community=w.community2,
        service_type="temporary_emergency",
        team={"social_worker": 1, "volunteer": 1},
        urgency=Need.Urgency.EMERGENCY,
        publish=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        need_transition(need=need, to=Need.Status.OPEN, by=w.official2)
    run = MatchRun.objects.get(need=need)
    assert run.kind == MatchRun.Kind.EMERGENCY and run.status == MatchRun.Status.DONE
    assert run.area == w.street2 and run.requested_by is None
    proposal = run.proposals.get()
    assert proposal.need == need and proposal.status == Proposal.Status.PENDING
    # Only this need: the other open needs wait for their street's or the nightly run.
    assert run.needs_count == 1
    # No social worker serves 临时救助 in or near 胜利路: that slot is paid for at the
    # emergency's unfilled cost, the volunteer of the community fills the other.
    assert _volunteer_ids(proposal) == {w.vol_far.pk}
    assert proposal.slots_wanted == 2 and proposal.slots_filled == 1 and not proposal.complete
    unfilled = scoring.weights()["unfilled"]["emergency"]
    assert unfilled > scoring.weights()["unfilled"]["normal"]
    assert run.objective == proposal.cost + unfilled
    # A second emergency start finds the pending proposal and does nothing.
    assert match_emergency_start(need_id=need.pk) is None
    assert MatchRun.objects.filter(need=need).count() == 1


def test_one_need_runs_start_only_for_open_needs_without_a_decision_pending(matched_world):
    w = matched_world
    assert match_emergency_start(need_id=w.need_visit.pk) is None  # not an emergency
    assert match_need_start(need=w.need_visit, requested_by=w.official) is None  # pending
    proposal_reject(proposal=w.proposals[w.need_visit.pk], by=w.official, reason="不合适")
    run = match_need_start(need=w.need_visit, requested_by=w.official)
    assert run.need == w.need_visit and run.area == w.street
    assert match_need_start(need=w.need_visit, requested_by=w.official) is None  # queued
    need_transition(need=w.need_visit, to=Need.Status.CANCELLED, by=w.official, reason="已搬离")
    assert match_need_start(need=w.need_visit, requested_by=w.official) is None
    # A one-need run does not keep the street busy.
    assert match_run_start(requested_by=w.official, area=w.street).status == "queued"


# --- Approval: routing and authority ------------------------------------------------------


def test_proposals_are_routed_by_the_rules(matching_world, make_need):
    w = matching_world
    big = make_need(
        community=w.community,
        kind=Need.Kind.FUNDS,
        service_type="temporary_expenditure",
        amount="6000.00",
    )
    far = make_need(community=w.community2, team={"volunteer": 2})
    proposals = proposals_by_need(run_now(by=w.civil, area=w.district))
    rules = {r.position: r for r in w.rules}
    assert proposals[big.pk].level == Level.DISTRICT and proposals[big.pk].rule == rules[10]
    assert not proposals[big.pk].cross_street  # a project has no street of its own
    assert proposals[w.need_funds.pk].level == Level.STREET  # 3,000 yuan
    assert proposals[far.pk].cross_street and proposals[far.pk].rule == rules[20]
    assert proposals[far.pk].level == Level.DISTRICT
    assert w.vol_far.pk in _volunteer_ids(proposals[far.pk])
    for need in (w.need_visit, w.need_team, w.need2):
        assert proposals[need.pk].level == Level.STREET
        assert proposals[need.pk].rule == rules[30]


def test_rules_are_data(matching_world):
    w = matching_world
    urgent = ApprovalRule.objects.create(
        position=5, name="紧急需求报区", urgency="urgent", level="district"
    )
    rules = list(ApprovalRule.objects.filter(active=True).order_by("position", "pk"))
    need = w.need_visit
    assert approval_rule_for(need=need, cross_street=False, rules=rules).position == 30
    need.urgency = Need.Urgency.URGENT
    assert approval_rule_for(need=need, cross_street=False, rules=rules) == urgent
    urgent.active = False
    urgent.save()
    assert approval_rule_for(need=need, cross_street=False).position == 30
    need.amount = Decimal("5000.00")  # not above the line
    assert approval_rule_for(need=need, cross_street=False).position == 30
    need.amount = Decimal("5000.01")
    assert approval_rule_for(need=need, cross_street=False).position == 10
    ApprovalRule.objects.all().delete()
    assert approval_rule_for(need=need, cross_street=True) is None


def test_street_officials_decide_only_street_level_proposals_of_their_street(
    matching_world, make_need
):
    w = matching_world
    big = make_need(
        community=w.community,
        kind=Need.Kind.FUNDS,
        service_type="temporary_expenditure",
        amount="6000.00",
    )
    proposals = proposals_by_need(run_now(by=w.civil, area=w.district))
    district, street = proposals[big.pk], proposals[w.need_visit.pk]
    assert proposal_may_decide(user=w.official, proposal=street)
    assert not proposal_may_decide(user=w.official2, proposal=street)
    assert not proposal_may_decide(user=w.official, proposal=district)
    assert proposal_may_decide(user=w.civil, proposal=district)
    assert proposal_may_decide(user=w.civil, proposal=street)  # the higher authority
    before = _state(district, street)
    with pytest.raises(NotPermitted) as exc:
        proposal_approve(proposal=district, by=w.official)
    assert "区民政局" in str(exc.value.message)
    with pytest.raises(NotPermitted):
        proposal_approve(proposal=street, by=w.official2)
    with pytest.raises(NotPermitted):
        proposal_reject(proposal=street, by=w.official2, reason="不同意")
    with pytest.raises(NotPermitted):
        proposal_redo(proposal=district, by=w.official)
    with pytest.raises(NotPermitted):
        proposal_approve(proposal=street, by=w.users[Role.SOCIAL_WORKER])
    assert _state(district, street) == before
    proposal_approve(proposal=district, by=w.civil)
    assert Decision.objects.get(proposal=district).level == Level.DISTRICT


# --- Approval: effects --------------------------------------------------------------------


def test_approval_records_the_decision_matches_the_need_and_forms_the_team(
    matching_world, agency_contract, django_capture_on_commit_callbacks
):
    w = matching_world
    proposals = proposals_by_need(run_now(by=w.official, area=w.street))
    proposal = proposals[w.need_team.pk]
    leader_item = _item(proposal, role="social_worker")
    # The agency holds a contract covering 走访探视 in this street: its worker leads.
    assert leader_item.social_worker == w.sw_agency
    assert leader_item.contract == agency_contract
    with django_capture_on_commit_callbacks() as callbacks:
        approved = proposal_approve(proposal=proposal, by=w.official, note=" 同意组队 ")
    assert approved.status == Proposal.Status.APPROVED
    assert approved.decided_by == w.official and approved.decided_at
    assert approved.decision_note == "同意组队"
    decision = Decision.objects.get(proposal=proposal)
    assert (decision.action, decision.level, decision.by, decision.note) == (
        Decision.Action.APPROVE,
        Level.STREET,
        w.official,
        "同意组队",
    )
    assert set(proposal.items.values_list("response", flat=True)) == {"waiting"}
    w.need_team.refresh_from_db()
    assert w.need_team.status == Need.Status.MATCHED
    team = Team.objects.get(need=w.need_team)
    assert approved.team == team and team.status == Team.Status.ACTIVE
    assert team.leader == w.sw_agency and team.contract == agency_contract
    assert team.organisation == w.agency
    members = {(m.user_id, m.role) for m in team.members.filter(active=True)}
    assert members == {
        (w.sw_agency.user_id, TeamMember.Role.LEADER),
        (w.vol_near.user_id, TeamMember.Role.VOLUNTEER),
        (w.vol_near2.user_id, TeamMember.Role.VOLUNTEER),
    }
    people = [w.sw_agency.user, w.vol_near.user, w.vol_near2.user]
    received = deliver(callbacks, [*people, w.vol_street.user])
    for user in people:
        assigned = [p for p in received[user.pk] if p["event"] == "proposal.assigned"]
        assert len(assigned) == 1 and assigned[0]["url"] == "/matching/assignments/"
        assert ProposalItem.objects.get(pk=assigned[0]["item"]).provider_user_id == user.pk
    assert received[w.vol_street.user.pk] == []


def test_a_volunteer_only_proposal_matches_the_need_without_a_team(matched_world):
    w = matched_world
    proposal = proposal_approve(proposal=w.proposals[w.need_visit.pk], by=w.official)
    assert proposal.team is None and not Team.objects.filter(need=w.need_visit).exists()
    w.need_visit.refresh_from_db()
    assert w.need_visit.status == Need.Status.MATCHED


def test_rejecting_needs_a_reason(matched_world):
    w = matched_world
    proposal = w.proposals[w.need_visit.pk]
    before = _state(proposal)
    for reason in ("", "   "):
        with pytest.raises(MatchingError) as exc:
            proposal_reject(proposal=proposal, by=w.official, reason=reason)
        assert exc.value.code == "reason_required"
    assert _state(proposal) == before
    proposal_reject(proposal=proposal, by=w.official, reason="该志愿者与老人曾有矛盾")
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.REJECTED
    assert proposal.decision_note == "该志愿者与老人曾有矛盾"
    assert Decision.objects.get(proposal=proposal).action == Decision.Action.REJECT
    assert set(proposal.items.values_list("response", flat=True)) == {"released"}
    w.need_visit.refresh_from_db()
    assert w.need_visit.status == Need.Status.OPEN
    with pytest.raises(InvalidState):
        proposal_approve(proposal=proposal, by=w.official)


def test_redo_queues_a_run_for_the_need_without_the_same_providers(
    matched_world, django_capture_on_commit_callbacks
):
    w = matched_world
    proposal = w.proposals[w.need_visit.pk]
    with django_capture_on_commit_callbacks(execute=True):
        proposal_redo(proposal=proposal, by=w.official, note="请换一位志愿者")
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.REDO
    assert Decision.objects.get(proposal=proposal).action == Decision.Action.REDO
    run = MatchRun.objects.get(need=w.need_visit)
    assert run.kind == MatchRun.Kind.MANUAL and run.requested_by == w.official
    assert run.status == MatchRun.Status.DONE and run.needs_count == 1
    fresh = Proposal.objects.get(need=w.need_visit, status=Proposal.Status.PENDING)
    assert fresh.run == run
    assert _volunteer_ids(fresh) and w.vol_near.pk not in _volunteer_ids(fresh)


def test_approving_after_the_need_was_cancelled_changes_nothing(matched_world):
    w = matched_world
    proposal = w.proposals[w.need_team.pk]
    need_transition(
        need=w.need_team, to=Need.Status.CANCELLED, by=w.official, reason="老人已入住养老院"
    )
    before = _state(proposal)
    with pytest.raises(InvalidState) as exc:
        proposal_approve(proposal=proposal, by=w.official)
    assert "已撤销" in str(exc.value.message)
    assert _state(proposal) == before
    assert not Decision.objects.filter(proposal=proposal).exists()


@pytest.mark.parametrize("change", ["worker_left", "account_closed", "at_capacity"])
def test_approving_with_a_provider_no_longer_available_changes_nothing(matched_world, change):
    w = matched_world
    proposal = w.proposals[w.need_team.pk]
    if change == "worker_left":
        worker = _item(proposal, role="social_worker").social_worker
        worker.active = False
        worker.save(update_fields=["active"])
        target, name = proposal, f"{worker.real_name}（已不在职）"
    elif change == "account_closed":
        w.vol_near.user.is_active = False
        w.vol_near.user.save(update_fields=["is_active"])
        target, name = proposal, "赵磊（账号已停用）"
    else:
        # 赵磊 now takes one task at a time, and approving the team gives him one.
        Volunteer.objects.filter(pk=w.vol_near.pk).update(max_concurrent=1)
        proposal_approve(proposal=proposal, by=w.official)
        target, name = w.proposals[w.need_visit.pk], "赵磊（已达同时服务上限）"
    before = _state(target)
    with pytest.raises(InvalidState) as exc:
        proposal_approve(proposal=target, by=w.official)
    assert name in str(exc.value.message)
    assert _state(target) == before


# --- Providers' answers ---------------------------------------------------------------------


@pytest.fixture
def approved_team(matched_world):
    """`matched_world` with the team proposal for `need_team` approved by the street."""
    w = matched_world
    w.team_proposal = proposal_approve(proposal=w.proposals[w.need_team.pk], by=w.official)
    w.leader_item = _item(w.team_proposal, role="social_worker")
    w.leader = w.leader_item.social_worker
    w.near_item = _item(w.team_proposal, volunteer=w.vol_near)
    w.near2_item = _item(w.team_proposal, volunteer=w.vol_near2)
    return w


def test_only_the_matched_provider_answers(approved_team):
    w = approved_team
    item = w.near_item
    assert proposal_item_may_respond(item=item, user=w.vol_near.user)
    for user in (w.vol_near2.user, w.official, w.leader.user, w.charity_staff):
        assert not proposal_item_may_respond(item=item, user=user)
        with pytest.raises(NotPermitted):
            proposal_item_respond(item=item, by=user, accept=True)
    item.refresh_from_db()
    assert item.response == ProposalItem.Response.WAITING


def test_accepting(approved_team):
    w = approved_team
    item = proposal_item_respond(item=w.near_item, by=w.vol_near.user, accept=True)
    assert item.response == ProposalItem.Response.ACCEPTED and item.responded_at
    with pytest.raises(InvalidState):
        proposal_item_respond(item=item, by=w.vol_near.user, accept=False, reason="改变主意")
    # An item not yet approved cannot be answered either.
    pending = w.proposals[w.need_visit.pk].items.get()
    with pytest.raises(InvalidState):
        proposal_item_respond(item=pending, by=w.vol_near.user, accept=True)


def test_a_decline_needs_a_reason_and_reopens_only_that_slot(approved_team):
    w = approved_team
    before = _state(w.team_proposal)
    with pytest.raises(MatchingError) as exc:
        proposal_item_respond(item=w.near2_item, by=w.vol_near2.user, accept=False, reason=" ")
    assert exc.value.code == "reason_required"
    assert _state(w.team_proposal) == before
    item = proposal_item_respond(
        item=w.near2_item, by=w.vol_near2.user, accept=False, reason="下月要住院手术"
    )
    assert item.response == ProposalItem.Response.DECLINED
    assert item.decline_reason == "下月要住院手术"
    team = w.team_proposal.team
    team.refresh_from_db()
    assert team.status == Team.Status.ACTIVE
    assert not TeamMember.objects.get(team=team, user=w.vol_near2.user).active
    assert TeamMember.objects.get(team=team, user=w.vol_near.user).active
    w.need_team.refresh_from_db()
    assert w.need_team.status == Need.Status.OPEN
    # The next run proposes the one volunteer slot, to someone else.
    proposals = proposals_by_need(run_now(by=w.official, area=w.street))
    again = proposals[w.need_team.pk]
    assert again.slots_wanted == 1 and again.slots_filled == 1
    [volunteer] = again.items.all()
    assert volunteer.role == ProposalItem.Role.VOLUNTEER
    assert volunteer.volunteer_id not in (w.vol_near2.pk, w.vol_near.pk)
    # Approved, the newcomer joins the same team and the need is matched again.
    proposal_approve(proposal=again, by=w.official)
    w.need_team.refresh_from_db()
    assert w.need_team.status == Need.Status.MATCHED
    assert Team.objects.filter(need=w.need_team).count() == 1
    assert TeamMember.objects.get(team=team, user_id=volunteer.volunteer.user_id).active


def test_a_team_member_is_not_proposed_again_for_the_slot_another_left(approved_team):
    w = approved_team
    # 赵磊 has room for more work, and is the nearest volunteer: still, he already holds one
    # of the need's slots, so the reopened one must go to someone else.
    Volunteer.objects.filter(pk=w.vol_near.pk).update(max_concurrent=5)
    proposal_item_respond(item=w.near2_item, by=w.vol_near2.user, accept=False, reason="搬家")
    snap = snapshot_build(area=w.street)
    assert f"v{w.vol_near.pk}" in snap.supply
    edges = {e.provider for e in snap.problem.edges if e.need == f"n{w.need_team.pk}"}
    assert edges and f"v{w.vol_near.pk}" not in edges
    assert f"v{w.vol_near2.pk}" not in edges


def test_the_leaders_decline_closes_the_team_and_reopens_the_whole_need(approved_team):
    w = approved_team
    proposal_item_respond(item=w.near_item, by=w.vol_near.user, accept=True)
    proposal_item_respond(item=w.leader_item, by=w.leader.user, accept=False, reason="机构人手调整")
    team = Team.objects.get(pk=w.team_proposal.team_id)
    assert team.status == Team.Status.CLOSED
    responses = dict(w.team_proposal.items.values_list("pk", "response"))
    assert responses == {
        w.leader_item.pk: "declined",
        w.near_item.pk: "released",
        w.near2_item.pk: "released",
    }
    w.need_team.refresh_from_db()
    assert w.need_team.status == Need.Status.OPEN
    again = proposals_by_need(run_now(by=w.official, area=w.street))[w.need_team.pk]
    assert again.slots_wanted == 3 and again.slots_filled == 3
    [worker] = again.items.filter(role="social_worker")
    assert worker.social_worker_id != w.leader.pk
    proposal_approve(proposal=again, by=w.official)
    new_team = Team.objects.get(need=w.need_team, status=Team.Status.ACTIVE)
    assert new_team != team and new_team.leader_id == worker.social_worker_id


def test_a_charitys_acceptance_asks_the_project_fund_to_pay(matched_world):
    w = matched_world
    proposal = proposal_approve(proposal=w.proposals[w.need_funds.pk], by=w.official)
    w.need_funds.refresh_from_db()
    assert w.need_funds.status == Need.Status.MATCHED
    item = proposal.items.select_related("project").get()
    assert proposal_item_may_respond(item=item, user=w.charity_staff)
    with pytest.raises(NotPermitted):
        proposal_item_respond(item=item, by=w.vol_near.user, accept=True)
    item = proposal_item_respond(item=item, by=w.charity_staff, accept=True)
    assert item.response == ProposalItem.Response.ACCEPTED
    disbursement = Disbursement.objects.get(need=w.need_funds)
    assert item.disbursement == disbursement
    assert disbursement.fund == w.project.fund
    assert disbursement.amount == Decimal("3000.00")
    assert disbursement.status == Disbursement.Status.PENDING
    assert disbursement.requested_by == w.charity_staff


def test_a_charitys_decline_reopens_the_need(matched_world):
    w = matched_world
    proposal = proposal_approve(proposal=w.proposals[w.need_funds.pk], by=w.official)
    item = proposal.items.get()
    proposal_item_respond(item=item, by=w.charity_staff, accept=False, reason="本期名额已满")
    w.need_funds.refresh_from_db()
    assert w.need_funds.status == Need.Status.OPEN
    assert not Disbursement.objects.filter(need=w.need_funds).exists()
    # The project is set aside for this need: nothing else gives, so nothing is proposed.
    snap = snapshot_build(area=w.street)
    assert not [e for e in snap.problem.edges if e.need == f"n{w.need_funds.pk}"]


def test_a_paid_place_of_a_project_is_counted_once(matched_world):
    from charity.models import ProjectPage
    from charity.services.disbursements import disbursement_approve
    from tests import factories as f

    w = matched_world
    proposal = proposal_approve(proposal=w.proposals[w.need_funds.pk], by=w.official)
    item = proposal_item_respond(item=proposal.items.get(), by=w.charity_staff, accept=True)
    key = f"c{w.project.pk}"
    assert snapshot_build(area=w.district).supply[key].capacity == w.project.capacity - 1
    paid = disbursement_approve(disbursement=item.disbursement, by=w.civil, idempotency_key=f.key())
    assert paid.status == Disbursement.Status.PAID
    assert ProjectPage.objects.get(pk=w.project.pk).places_taken == 1
    # The place is taken now (places_taken); the accepted item no longer holds one too.
    assert snapshot_build(area=w.district).supply[key].capacity == w.project.capacity - 1
    # And approving another need for the project's last place is not refused for it.
    from tests.matching.conftest import need_make

    another = need_make(
        w, kind=Need.Kind.FUNDS, service_type="temporary_expenditure", amount="500.00"
    )
    ProjectPage.objects.filter(pk=w.project.pk).update(capacity=2)
    proposal = proposals_by_need(run_now(by=w.official, area=w.street))[another.pk]
    assert proposal_approve(proposal=proposal, by=w.official).status == "approved"


def test_a_big_run_is_solved_by_street_tiles_with_the_same_guarantees(
    matching_world, settings, django_capture_on_commit_callbacks
):
    """Above MATCHING_TILE_MIN_NEEDS the run goes tile by tile (streets); here every tiny
    run is "big", so the split path is exercised on real data and compared with the whole."""
    w = matching_world
    with django_capture_on_commit_callbacks(execute=True):
        whole = match_run_start(requested_by=w.civil, area=w.district)
    whole.refresh_from_db()
    Proposal.objects.filter(run=whole).update(status=Proposal.Status.WITHDRAWN)
    ProposalItem.objects.filter(proposal__run=whole).update(response=ProposalItem.Response.RELEASED)
    settings.MATCHING_TILE_MIN_NEEDS = 1
    with django_capture_on_commit_callbacks(execute=True):
        tiled = match_run_start(requested_by=w.civil, area=w.district)
    tiled.refresh_from_db()
    assert tiled.status == MatchRun.Status.DONE and tiled.method == "tiled"
    assert tiled.solver_status == "FEASIBLE"
    assert tiled.objective >= whole.objective  # never better than the proven optimum
    assert tiled.proposals_count == whole.proposals_count
    for proposal in tiled.proposals.all():
        assert proposal.items.count() <= proposal.slots_wanted
