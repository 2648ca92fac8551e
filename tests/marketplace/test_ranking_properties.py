"""Properties of the ranking computation (`rank_lot` is pure: unsaved rows in, ranking out,
no database): totals are the weighted sum, ranks are a permutation in order of total, the
lowest price scores 100, and scores never move another bid's price score."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.models import Bid, Criterion, EvaluatorAssignment, Organisation, User
from marketplace.selectors.evaluation import rank_lot

BASE = timezone.now()
prices = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("99999.99"), places=2)
score_values = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)


def criteria(weights: list[int]) -> list[Criterion]:
    """A price criterion and the others, with the given weights (price first)."""
    kinds = ["price", "plan", "team", "performance", "other"]
    return [
        Criterion(pk=i + 1, kind=kinds[i], name=f"项{i}", weight=w, position=i)
        for i, w in enumerate(weights)
    ]


def bids(price_list: list[Decimal], minutes: list[int]) -> list[Bid]:
    out = []
    for i, (price, m) in enumerate(zip(price_list, minutes, strict=False), start=1):
        bid = Bid(
            pk=i,
            price=price,
            status=Bid.Status.SUBMITTED,
            qualification=Bid.Qualification.PASSED,
            submitted_at=BASE + timedelta(minutes=m),
        )
        bid.agency = Organisation(pk=i, name=f"机构{i}")
        out.append(bid)
    return out


def judges(n: int) -> list[EvaluatorAssignment]:
    out = []
    for i in range(1, n + 1):
        a = EvaluatorAssignment(pk=i, declaration=EvaluatorAssignment.Declaration.NO_CONFLICT)
        a.evaluator = User(pk=i, username=f"e{i}")
        out.append(a)
    return out


@st.composite
def lots(draw):
    weights = draw(st.lists(st.integers(1, 60), min_size=2, max_size=5))
    n_bids = draw(st.integers(1, 6))
    price_list = draw(st.lists(prices, min_size=n_bids, max_size=n_bids))
    minutes = draw(st.lists(st.integers(0, 3), min_size=n_bids, max_size=n_bids))
    n_judges = draw(st.integers(0, 3))
    crits = criteria(weights)
    scores = {}
    for a in range(1, n_judges + 1):
        for b in range(1, n_bids + 1):
            for c in crits[1:]:
                if draw(st.booleans()):
                    scores[(a, b, c.pk)] = draw(score_values)
    return crits, bids(price_list, minutes), judges(n_judges), scores


def rank(crits, bid_list, assignments, scores):
    return rank_lot(
        criteria=crits, bids=bid_list, assignments=assignments, scores=scores, min_evaluators=2
    )


@settings(max_examples=150, deadline=None)
@given(lots())
def test_totals_are_weighted_sums_and_ranks_a_permutation(data):
    crits, bid_list, assignments, scores = data
    ranking = rank(crits, bid_list, assignments, scores)
    assert sorted(r.rank for r in ranking.rows) == list(range(1, len(bid_list) + 1))
    assert {r.bid.pk for r in ranking.rows} == {b.pk for b in bid_list}
    for row in ranking.rows:
        assert row.total == sum(c.weighted for c in row.criteria)
        for part in row.criteria:
            expected = (
                Decimal("0.00")
                if part.mean is None
                else (part.mean * part.criterion.weight / 100).quantize(Decimal("0.01"))
            )
            assert abs(part.weighted - expected) <= Decimal("0.01")
            if part.mean is not None:
                assert Decimal("0") <= part.mean <= Decimal("100")
    ordered = [(r.total, r.price) for r in ranking.rows]
    for (t1, p1), (t2, p2) in zip(ordered, ordered[1:], strict=False):
        assert t1 > t2 or (t1 == t2 and p1 <= p2)


@settings(max_examples=150, deadline=None)
@given(lots())
def test_lowest_price_scores_100_and_others_less(data):
    crits, bid_list, assignments, scores = data
    ranking = rank(crits, bid_list, assignments, scores)
    lowest = min(b.price for b in bid_list)
    for row in ranking.rows:
        if row.price == lowest:
            assert row.price_score == Decimal("100.00")
        else:
            assert row.price_score <= Decimal("100.00")
        assert row.criteria[0].mean == row.price_score


@settings(max_examples=100, deadline=None)
@given(lots(), st.integers(0, 5), score_values)
def test_adding_a_score_never_changes_price_scores(data, which, value):
    crits, bid_list, assignments, scores = data
    before = {r.bid.pk: r.price_score for r in rank(crits, bid_list, assignments, scores).rows}
    more = dict(scores)
    bid = bid_list[which % len(bid_list)]
    more[(1, bid.pk, crits[-1].pk)] = value
    after_rows = rank(crits, bid_list, judges(max(len(assignments), 1)), more).rows
    assert {r.bid.pk: r.price_score for r in after_rows} == before
    # Other bids' totals stay as they were when their scores did not change.
    if assignments:
        old = {r.bid.pk: r.total for r in rank(crits, bid_list, assignments, scores).rows}
        for row in after_rows:
            if row.bid.pk != bid.pk:
                assert row.total == old[row.bid.pk]


@settings(max_examples=100, deadline=None)
@given(lots())
def test_complete_only_when_every_judge_scored_everything(data):
    crits, bid_list, assignments, scores = data
    ranking = rank(crits, bid_list, assignments, scores)
    full = len(assignments) >= 2 and all(
        (a.pk, b.pk, c.pk) in scores for a in assignments for b in bid_list for c in crits[1:]
    )
    assert ranking.complete == full
    assert bool(ranking.missing) != full


@settings(max_examples=60, deadline=None)
@given(lots())
def test_unqualified_and_withdrawn_bids_are_left_out(data):
    crits, bid_list, assignments, scores = data
    extra = bids([Decimal("0.50"), Decimal("0.60")], [0, 0])
    extra[0].pk, extra[1].pk = 101, 102
    extra[0].qualification = Bid.Qualification.FAILED
    extra[1].status = Bid.Status.WITHDRAWN
    with_extra = rank(crits, [*bid_list, *extra], assignments, scores)
    plain = rank(crits, bid_list, assignments, scores)
    assert [(r.bid.pk, r.total, r.rank) for r in with_extra.rows] == [
        (r.bid.pk, r.total, r.rank) for r in plain.rows
    ]
