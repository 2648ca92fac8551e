"""Evaluation and award services: qualification, evaluators and declarations, score sheets,
the computed ranking, award, failure of a lot, standstill, complaints and finalisation.
Every refusal leaves the database as it was."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Award,
    Bid,
    Complaint,
    Criterion,
    EvaluatorAssignment,
    Lot,
    Role,
    Score,
    Tender,
)
from marketplace.selectors.evaluation import (
    evaluation_progress,
    lot_ranking,
    tender_rankings,
)
from marketplace.services.evaluation import (
    award_decide,
    award_finalise,
    award_finalise_due,
    bid_qualify,
    complaint_answer,
    complaint_lodge,
    evaluator_assign,
    evaluator_declare,
    lot_fail,
    score_sheet_save,
)
from tests import procurement as p

D = Decimal


def opened_tender(world, *, lots: int = 1) -> Tender:
    """A tender whose window has closed and whose bids are opened."""
    tender = p.tender(world, state="closed", lots=lots)
    tender.status = Tender.Status.OPENED
    tender.opened_at = timezone.now()
    tender.save(update_fields=["status", "opened_at"])
    return tender


def declared(tender, official, *, n: int = 2, conflict: bool = False):
    """`n` evaluators assigned to the tender who declared (no conflict unless told)."""
    out = []
    for _ in range(n):
        expert = p.evaluator()
        a = evaluator_assign(tender=tender, by=official, evaluator=expert)
        out.append(
            evaluator_declare(
                assignment=a, by=expert, conflict=conflict, note="亲属关系" if conflict else ""
            )
        )
    return out


def sheet(tender, values):
    """Scores for the tender's non-price criteria, in their order."""
    crits = list(tender.criteria.exclude(kind="price").order_by("position"))
    return {c.pk: D(v) for c, v in zip(crits, values, strict=True)}


@pytest.fixture
def setup(world):
    """An opened one-lot tender with two qualified bids and two evaluators who declared no
    conflict, none of whom has scored yet."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    lot = tender.lots.get()
    a1 = p.agency(world.street, "甲社工服务中心")
    a2 = p.agency(world.street, "乙社工服务中心")
    b1 = p.opened_bid(lot, a1, price=D("36000.00"))
    b2 = p.opened_bid(lot, a2, price=D("30000.00"))
    judges = declared(tender, official)
    return world, official, tender, lot, (a1, a2), (b1, b2), judges


def score_all(tender, judges, bids, values=("80", "70", "60")):
    for j in judges:
        for b in bids:
            score_sheet_save(assignment=j, by=j.evaluator, bid=b, scores=sheet(tender, values))


# --- Qualification ----------------------------------------------------------------------


def test_qualify_pass_and_fail_with_reason(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    bid_qualify(bid=bid, by=official, passed=False, reason="  营业执照过期 ")
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.FAILED
    assert bid.qualification_reason == "营业执照过期"
    assert bid.qualified_by == official
    bid_qualify(bid=bid, by=official, passed=True, reason="")
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.PASSED


def test_qualify_refusals_change_nothing(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    with pytest.raises(ValidationError) as exc:
        bid_qualify(bid=bid, by=official, passed=False, reason="  ")
    assert "请填写不通过的理由" in str(exc.value)
    with pytest.raises(NotPermitted):
        bid_qualify(bid=bid, by=world.users[Role.AUDITOR], passed=True, reason="")
    with pytest.raises(NotPermitted):
        bid_qualify(bid=bid, by=bid.agency.staff_user, passed=True, reason="")
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.PENDING


def test_qualify_refused_before_opening_and_after_award(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = p.tender(world, state="closed")
    lot = tender.lots.get()
    bid = p.opened_bid(lot, p.agency(world.street), price=D("1"), qualified=None)
    with pytest.raises(InvalidState):
        bid_qualify(bid=bid, by=official, passed=True, reason="")
    Tender.objects.filter(pk=tender.pk).update(status="opened", opened_at=timezone.now())
    p.award(lot, bid, official, final=False)
    with pytest.raises(InvalidState):
        bid_qualify(bid=bid, by=official, passed=True, reason="")
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.PENDING


def test_qualify_refused_for_withdrawn_bid(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    Bid.objects.filter(pk=bid.pk).update(status=Bid.Status.WITHDRAWN)
    with pytest.raises(InvalidState):
        bid_qualify(bid=bid, by=official, passed=True, reason="")


# --- Evaluators -------------------------------------------------------------------------


def test_assign_rules(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = p.tender(world, state="enquiry")
    expert = p.evaluator()
    a = evaluator_assign(tender=tender, by=official, evaluator=expert)
    assert a.declaration == EvaluatorAssignment.Declaration.PENDING
    with pytest.raises(ValidationError) as exc:
        evaluator_assign(tender=tender, by=official, evaluator=expert)
    assert "已被指派" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        evaluator_assign(tender=tender, by=official, evaluator=world.users[Role.AUDITOR])
    assert "该用户不是评审专家" in str(exc.value)
    with pytest.raises(NotPermitted):
        evaluator_assign(tender=tender, by=world.users[Role.AUDITOR], evaluator=p.evaluator())
    assert EvaluatorAssignment.objects.filter(tender=tender).count() == 1


def test_assign_refused_for_draft_and_after_award(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    with pytest.raises(InvalidState):
        evaluator_assign(
            tender=p.tender(world, state="draft"), by=official, evaluator=p.evaluator()
        )
    tender = opened_tender(world)
    lot = tender.lots.get()
    p.award(lot, p.opened_bid(lot, p.agency(world.street), price=D("1")), official, final=False)
    with pytest.raises(InvalidState):
        evaluator_assign(tender=tender, by=official, evaluator=p.evaluator())
    assert not tender.evaluators.exists()


def test_declare_rules(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = p.tender(world, state="closed")
    expert = p.evaluator()
    a = evaluator_assign(tender=tender, by=official, evaluator=expert)
    with pytest.raises(InvalidState) as exc:
        evaluator_declare(assignment=a, by=expert, conflict=False)
    assert "开标后才能声明" in str(exc.value)
    Tender.objects.filter(pk=tender.pk).update(status="opened", opened_at=timezone.now())
    with pytest.raises(NotPermitted):
        evaluator_declare(assignment=a, by=p.evaluator(), conflict=False)
    with pytest.raises(ValidationError):
        evaluator_declare(assignment=a, by=expert, conflict=True, note=" ")
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.PENDING
    evaluator_declare(assignment=a, by=expert, conflict=True, note="曾任投标机构理事")
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.CONFLICT
    assert a.declared_at is not None
    with pytest.raises(InvalidState):
        evaluator_declare(assignment=a, by=expert, conflict=False)
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.CONFLICT


# --- Score sheets -----------------------------------------------------------------------


def test_score_sheet_saves_and_upserts(setup):
    world, official, tender, lot, agencies, (b1, b2), (j1, j2) = setup
    saved = score_sheet_save(
        assignment=j1,
        by=j1.evaluator,
        bid=b1,
        scores=sheet(tender, ["80", "70.5", "60.25"]),
        comments={next(iter(sheet(tender, ["1", "1", "1"]))): "方案完整"},
    )
    assert len(saved) == 3
    assert Score.objects.filter(assignment=j1, bid=b1).count() == 3
    score_sheet_save(
        assignment=j1, by=j1.evaluator, bid=b1, scores=sheet(tender, ["90", "70.5", "60.25"])
    )
    assert Score.objects.filter(assignment=j1, bid=b1).count() == 3
    assert sorted(Score.objects.filter(assignment=j1, bid=b1).values_list("score", flat=True)) == [
        D("60.25"),
        D("70.50"),
        D("90.00"),
    ]


@pytest.mark.parametrize(
    "values,message",
    [
        (["101", "50", "50"], "分值应在0到100之间"),
        (["-1", "50", "50"], "分值应在0到100之间"),
        (["50.123", "50", "50"], "两位小数"),
        (["NaN", "50", "50"], "分值应在0到100之间"),
    ],
)
def test_score_sheet_refuses_bad_values_all_or_nothing(setup, values, message):
    world, official, tender, lot, agencies, (b1, b2), (j1, j2) = setup
    crits = list(tender.criteria.exclude(kind="price").order_by("position"))
    # The last criterion is valid and comes after the bad one: nothing may be written.
    scores = {c.pk: v for c, v in zip(crits, values, strict=True)}
    with pytest.raises(ValidationError) as exc:
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=scores)
    assert message in str(exc.value)
    assert not Score.objects.exists()


def test_score_sheet_refuses_missing_price_and_foreign_criteria(setup, world):
    _, official, tender, lot, agencies, (b1, b2), (j1, j2) = setup
    full = sheet(tender, ["80", "70", "60"])
    partial = dict(list(full.items())[:2])
    with pytest.raises(ValidationError) as exc:
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=partial)
    assert "以往业绩" in str(exc.value)
    price = tender.criteria.get(kind="price")
    with pytest.raises(ValidationError):
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores={**full, price.pk: D("50")})
    other = p.tender(world, state="closed")
    foreign = other.criteria.exclude(kind="price").first()
    with pytest.raises(ValidationError):
        score_sheet_save(
            assignment=j1, by=j1.evaluator, bid=b1, scores={**full, foreign.pk: D("50")}
        )
    assert not Score.objects.exists()


def test_score_sheet_refusals_by_state_and_person(setup, world):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2) = setup
    full = sheet(tender, ["80", "70", "60"])
    with pytest.raises(NotPermitted):
        score_sheet_save(assignment=j1, by=j2.evaluator, bid=b1, scores=full)
    pending = evaluator_assign(tender=tender, by=official, evaluator=p.evaluator())
    with pytest.raises(NotPermitted):
        score_sheet_save(assignment=pending, by=pending.evaluator, bid=b1, scores=full)
    recused = declared(tender, official, n=1, conflict=True)[0]
    with pytest.raises(NotPermitted):
        score_sheet_save(assignment=recused, by=recused.evaluator, bid=b1, scores=full)
    unqualified = p.opened_bid(lot, p.agency(world.street), price=D("35000"), qualified=None)
    with pytest.raises(InvalidState):
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=unqualified, scores=full)
    other = opened_tender(world)
    foreign_bid = p.opened_bid(other.lots.get(), a1, price=D("1000"))
    with pytest.raises(NotPermitted):
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=foreign_bid, scores=full)
    Lot.objects.filter(pk=lot.pk).update(status=Lot.Status.FAILED)
    with pytest.raises(InvalidState):
        score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=full)
    assert not Score.objects.exists()


# --- Ranking ----------------------------------------------------------------------------


def test_ranking_breakdown_and_order(setup):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2) = setup
    score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=sheet(tender, [90, 90, 90]))
    score_sheet_save(assignment=j2, by=j2.evaluator, bid=b1, scores=sheet(tender, [80, 81, 70]))
    score_sheet_save(assignment=j1, by=j1.evaluator, bid=b2, scores=sheet(tender, [60, 60, 60]))
    score_sheet_save(assignment=j2, by=j2.evaluator, bid=b2, scores=sheet(tender, [60, 60, 60]))
    ranking = lot_ranking(lot=lot)
    assert ranking.complete and ranking.missing == []
    first, second = ranking.rows
    # b1: price 30000/36000*100 = 83.33 → ×40% 33.33; plan mean 85 → 25.50;
    # team mean 85.5 → 17.10; performance mean 80 → 8.00. Total 83.93.
    assert first.bid == b1 and first.rank == 1
    assert first.price_score == D("83.33")
    assert [c.mean for c in first.criteria] == [D("83.33"), D("85.00"), D("85.50"), D("80.00")]
    assert [c.weighted for c in first.criteria] == [D("33.33"), D("25.50"), D("17.10"), D("8.00")]
    assert first.total == D("83.93")
    # b2: price 100 → 40; 60 everywhere → 18 + 12 + 6. Total 76.
    assert second.bid == b2 and second.price_score == D("100.00") and second.total == D("76.00")


def test_ranking_tie_goes_to_lower_price_then_earlier_submission(setup, world):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2) = setup
    # Equal totals: make price the only criterion that counts.
    Criterion.objects.filter(tender=tender).exclude(kind="price").update(weight=1)
    Bid.objects.filter(pk=b2.pk).update(price=D("36000.00"))
    Bid.objects.filter(pk=b1.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    score_all(tender, (j1, j2), (b1, b2), values=("50", "50", "50"))
    rows = lot_ranking(lot=lot).rows
    assert [r.bid for r in rows] == [b1, b2]
    assert rows[0].total == rows[1].total


def test_ranking_missing_lists_what_is_left(setup, world):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2) = setup
    pending_bid = p.opened_bid(lot, p.agency(world.street, "丙社工"), price=D("1"), qualified=None)
    late = evaluator_assign(tender=tender, by=official, evaluator=p.evaluator("laozhang"))
    score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=sheet(tender, [1, 2, 3]))
    ranking = lot_ranking(lot=lot)
    assert not ranking.complete
    text = "\n".join(ranking.missing)
    assert "丙社工的投标尚未进行资格审查" in text
    assert "laozhang尚未作出利益冲突声明" in text
    assert "乙社工服务中心" in text  # b2 not scored by j1
    assert [r.bid for r in ranking.rows] == [b2, b1]  # only qualified, pending one left out
    assert pending_bid not in [r.bid for r in ranking.rows]
    assert late  # recorded


def test_ranking_needs_minimum_evaluators_and_ignores_recused(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    lot = tender.lots.get()
    bid = p.opened_bid(lot, p.agency(world.street), price=D("100"))
    (judge,) = declared(tender, official, n=1)
    declared(tender, official, n=1, conflict=True)
    score_sheet_save(
        assignment=judge, by=judge.evaluator, bid=bid, scores=sheet(tender, [50, 50, 50])
    )
    ranking = lot_ranking(lot=lot)
    assert not ranking.complete
    assert any("至少需要2名" in m for m in ranking.missing)


def test_ranking_before_opening_is_empty(world):
    tender = p.tender(world, state="closed")
    ranking = lot_ranking(lot=tender.lots.get())
    assert ranking.rows == [] and not ranking.complete


def test_tender_rankings_constant_queries(world, django_assert_max_num_queries):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world, lots=2)
    judges = declared(tender, official)
    for lot in tender.lots.all():
        bids = [p.opened_bid(lot, p.agency(world.street), price=D(9000 + i)) for i in range(4)]
        score_all(tender, judges, bids)
    tender = Tender.objects.get(pk=tender.pk)
    with django_assert_max_num_queries(5):
        rankings = tender_rankings(tender=tender)
    assert all(r.complete and len(r.rows) == 4 for r in rankings.values())


def test_progress_counts_scores(setup):
    _, official, tender, lot, agencies, (b1, b2), (j1, j2) = setup
    score_sheet_save(assignment=j1, by=j1.evaluator, bid=b1, scores=sheet(tender, [1, 2, 3]))
    progress = {row.assignment.pk: row for row in evaluation_progress(tender=tender)}
    assert (progress[j1.pk].scored, progress[j1.pk].expected) == (3, 6)
    assert not progress[j1.pk].done
    assert progress[j2.pk].scored == 0


# --- Award ------------------------------------------------------------------------------


def test_award_refused_until_complete_then_made(setup):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2) = setup
    with pytest.raises(InvalidState) as exc:
        award_decide(lot=lot, by=official)
    assert "评审尚未完成" in str(exc.value)
    assert not Award.objects.exists()
    score_all(tender, (j1, j2), (b1, b2))
    with pytest.raises(NotPermitted):
        award_decide(lot=lot, by=world_auditor(setup))
    award = award_decide(lot=lot, by=official)
    lot.refresh_from_db()
    assert lot.status == Lot.Status.AWARDED
    assert award.bid == b2  # cheaper, equal scores
    assert award.value == D("30000.00")
    assert award.status == Award.Status.STANDSTILL
    assert award.standstill_ends_at - award.decided_at == timedelta(days=tender.standstill_days)
    snap = award.ranking
    assert [r["rank"] for r in snap] == [1, 2]
    assert snap[0]["agency_id"] == a2.pk and snap[0]["agency"] == a2.name
    assert snap[0]["price_score"] == "100.00" and snap[0]["total"]
    assert len(snap[0]["criteria"]) == 4
    with pytest.raises(InvalidState):
        award_decide(lot=lot, by=official)
    assert Award.objects.count() == 1


def world_auditor(setup):
    return setup[0].users[Role.AUDITOR]


def test_award_without_qualified_bid_asks_to_fail(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    lot = tender.lots.get()
    p.opened_bid(lot, p.agency(world.street), price=D("10"), qualified=False)
    with pytest.raises(InvalidState) as exc:
        award_decide(lot=lot, by=official)
    assert "请作流标处理" in str(exc.value)
    with pytest.raises(ValidationError):
        lot_fail(lot=lot, by=official, reason=" ")
    with pytest.raises(NotPermitted):
        lot_fail(lot=lot, by=world.users[Role.AUDITOR], reason="无合格投标")
    lot.refresh_from_db()
    assert lot.status == Lot.Status.OPEN
    lot_fail(lot=lot, by=official, reason="无合格投标")
    lot.refresh_from_db()
    assert lot.status == Lot.Status.FAILED
    assert lot.failed_reason == "无合格投标"
    with pytest.raises(InvalidState):
        lot_fail(lot=lot, by=official, reason="再次")


def test_award_refused_before_opening(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = p.tender(world, state="closed")
    with pytest.raises(InvalidState):
        award_decide(lot=tender.lots.get(), by=official)


# --- Standstill, complaints, finalisation -------------------------------------------------


@pytest.fixture
def awarded(setup):
    world, official, tender, lot, agencies, bids, judges = setup
    score_all(tender, judges, bids)
    award = award_decide(lot=lot, by=official)
    return world, official, tender, lot, agencies, bids, judges, award


def test_complaint_lodge_rules(awarded, world):
    _, official, tender, lot, (a1, a2), (b1, b2), judges, award = awarded
    loser = a1.staff_user
    with pytest.raises(ValidationError):
        complaint_lodge(award=award, by=loser, organisation=a1, grounds="  ")
    with pytest.raises(NotPermitted):  # the winner
        complaint_lodge(award=award, by=a2.staff_user, organisation=a2, grounds="不公")
    with pytest.raises(NotPermitted):  # staff of another agency, in a1's name
        complaint_lodge(award=award, by=a2.staff_user, organisation=a1, grounds="不公")
    outsider = p.agency(world.street)
    with pytest.raises(NotPermitted):  # did not bid
        complaint_lodge(award=award, by=outsider.staff_user, organisation=outsider, grounds="x")
    assert not Complaint.objects.exists()
    c = complaint_lodge(award=award, by=loser, organisation=a1, grounds="评分有误")
    assert c.status == Complaint.Status.OPEN
    with pytest.raises(InvalidState):
        complaint_lodge(award=award, by=loser, organisation=a1, grounds="再次质疑")
    assert Complaint.objects.count() == 1


def test_complaint_after_standstill_refused(awarded):
    _, official, tender, lot, (a1, a2), bids, judges, award = awarded
    Award.objects.filter(pk=award.pk).update(standstill_ends_at=timezone.now())
    with pytest.raises(InvalidState) as exc:
        complaint_lodge(award=award, by=a1.staff_user, organisation=a1, grounds="迟到的质疑")
    assert "质疑期已过" in str(exc.value)


def test_complaint_dismissed_keeps_award(awarded):
    world, official, tender, lot, (a1, a2), bids, judges, award = awarded
    c = complaint_lodge(award=award, by=a1.staff_user, organisation=a1, grounds="评分有误")
    with pytest.raises(ValidationError):
        complaint_answer(complaint=c, by=official, upheld=False, response="")
    with pytest.raises(NotPermitted):
        complaint_answer(complaint=c, by=world.users[Role.AUDITOR], upheld=True, response="x")
    c.refresh_from_db()
    assert c.status == Complaint.Status.OPEN
    complaint_answer(complaint=c, by=official, upheld=False, response="经复核评分无误")
    c.refresh_from_db()
    award.refresh_from_db()
    assert c.status == Complaint.Status.DISMISSED and c.answered_by == official
    assert award.status == Award.Status.STANDSTILL
    with pytest.raises(InvalidState):
        complaint_answer(complaint=c, by=official, upheld=True, response="改判")


def test_complaint_upheld_cancels_award_and_reopens_lot(awarded):
    _, official, tender, lot, (a1, a2), (b1, b2), (j1, j2), award = awarded
    c = complaint_lodge(award=award, by=a1.staff_user, organisation=a1, grounds="乙机构资质不符")
    complaint_answer(complaint=c, by=official, upheld=True, response="乙机构资质证书过期")
    award.refresh_from_db()
    lot.refresh_from_db()
    assert award.status == Award.Status.CANCELLED
    assert "资质证书过期" in award.cancelled_reason
    assert lot.status == Lot.Status.OPEN
    # Qualification may be revised and a new award made on the new ranking.
    bid_qualify(bid=b2, by=official, passed=False, reason="资质证书过期")
    again = award_decide(lot=lot, by=official)
    assert again.bid == b1


def test_finalise_rules(awarded):
    _, official, tender, lot, (a1, a2), bids, judges, award = awarded
    with pytest.raises(InvalidState):
        award_finalise(award=award)
    c = complaint_lodge(award=award, by=a1.staff_user, organisation=a1, grounds="评分有误")
    Award.objects.filter(pk=award.pk).update(standstill_ends_at=timezone.now())
    with pytest.raises(InvalidState):
        award_finalise(award=award)
    assert award_finalise_due() == 0
    complaint_answer(complaint=c, by=official, upheld=False, response="无误")
    assert award_finalise_due() == 1
    award.refresh_from_db()
    assert award.status == Award.Status.FINAL
    assert award_finalise_due() == 0
    with pytest.raises(InvalidState):
        award_finalise(award=award)


def test_finalise_due_counts_only_eligible(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world, lots=2)
    lot1, lot2 = tender.lots.all()
    due = p.award(
        lot1, p.opened_bid(lot1, p.agency(world.street), price=D("1")), official, final=False
    )
    Award.objects.filter(pk=due.pk).update(standstill_ends_at=timezone.now() - timedelta(hours=1))
    p.award(lot2, p.opened_bid(lot2, p.agency(world.street), price=D("1")), official, final=False)
    assert award_finalise_due() == 1
    assert set(Award.objects.values_list("status", flat=True)) == {"final", "standstill"}
