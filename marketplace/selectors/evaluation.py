"""Reads of the evaluation and award stage: the ranking of a lot with its score breakdown
(computed here, never typed in), the evaluators' progress, red flags for civil affairs, the
evaluators' own assignments and score sheets, and the awards and complaints bidders see.

Nothing here shows a bid's content before its tender is opened: the plain price, team and
declarations only exist after opening, and every read of bids checks the tender first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.models import (
    Award,
    Bid,
    Complaint,
    Criterion,
    EvaluatorAssignment,
    Lot,
    Organisation,
    Role,
    Score,
    Tender,
    User,
)
from marketplace.selectors.directory import user_scope

__all__ = [
    "AssignmentLot",
    "CriterionScore",
    "EvaluatorProgress",
    "LotRanking",
    "RankRow",
    "RedFlag",
    "assignment_get_for_user",
    "assignment_list_for_user",
    "assignment_lots",
    "award_get_for_bidder",
    "award_list_for_bidder",
    "award_list_for_tender",
    "bidding_agency_names",
    "complaint_get_for_user",
    "complaint_organisations",
    "complaint_list_for_user",
    "evaluation_lots",
    "evaluation_progress",
    "evaluation_tender_get_for_user",
    "evaluator_choices",
    "lot_ranking",
    "lot_ranking_get_for_user",
    "rank_lot",
    "score_sheet_get",
    "tender_opened",
    "tender_rankings",
    "tender_red_flags",
]

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
Declaration = EvaluatorAssignment.Declaration


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def tender_opened(tender: Tender, now: datetime | None = None) -> bool:
    """Whether the tender's bids have been opened, so their plain content may be read by
    those entitled to it (and never before the close, whatever the status says)."""
    if not tender.closed(now):
        return False
    if tender.status in {Tender.Status.OPENED, Tender.Status.COMPLETE}:
        return True
    return tender.status == Tender.Status.CANCELLED and tender.opened_at is not None


# --- Ranking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionScore:
    """One criterion of one bid: the mean score (for price, the price score) and its weighted
    share of the total."""

    criterion: Criterion
    mean: Decimal | None
    weighted: Decimal


@dataclass(frozen=True)
class RankRow:
    """A qualified bid in the ranking."""

    bid: Bid
    price: Decimal
    price_score: Decimal
    criteria: list[CriterionScore]
    total: Decimal
    rank: int


@dataclass(frozen=True)
class LotRanking:
    """The ranking of a lot's qualified bids; `complete` says whether an award may be made on
    it, and `missing` says in words what is still to be done."""

    complete: bool
    missing: list[str]
    rows: list[RankRow]
    lot: Lot | None = None
    criteria: list[Criterion] = field(default_factory=list)


def _price_score(lowest: Decimal, price: Decimal) -> Decimal:
    if price <= 0:
        return HUNDRED
    return _q(lowest / price * HUNDRED)


def rank_lot(
    *,
    criteria: Iterable[Criterion],
    bids: Iterable[Bid],
    assignments: Iterable[EvaluatorAssignment],
    scores: Mapping[tuple[int, int, int], Decimal],
    min_evaluators: int,
    lot: Lot | None = None,
) -> LotRanking:
    """The ranking of one lot from its data, without touching the database.

    `bids` are the lot's bids (withdrawn ones are ignored), `scores` maps (assignment id, bid
    id, criterion id) to a score. Price score = lowest qualified price ÷ price × 100; other
    criteria: the mean over evaluators who declared no conflict; weighted = mean × weight ÷
    100; total = the sum of the weighted scores. Ties go to the lower price, then to the
    earlier submission."""
    criteria = sorted(criteria, key=lambda c: (c.position, c.pk))
    scored_criteria = [c for c in criteria if c.kind != Criterion.Kind.PRICE]
    live = [b for b in bids if b.status == Bid.Status.SUBMITTED]
    pending = [b for b in live if b.qualification == Bid.Qualification.PENDING]
    qualified = [b for b in live if b.qualification == Bid.Qualification.PASSED]
    assignments = list(assignments)
    judges = [a for a in assignments if a.declaration == Declaration.NO_CONFLICT]
    undeclared = [a for a in assignments if a.declaration == Declaration.PENDING]

    missing: list[str] = []
    for bid in pending:
        missing.append(_("%(agency)s的投标尚未进行资格审查") % {"agency": bid.agency.name})
    if len(judges) < min_evaluators:
        missing.append(
            _("至少需要%(min)s名评审专家声明无利益冲突（目前%(n)s名）")
            % {"min": min_evaluators, "n": len(judges)}
        )
    for a in undeclared:
        missing.append(_("评审专家%(name)s尚未作出利益冲突声明") % {"name": a.evaluator})
    for a in judges:
        for bid in qualified:
            gaps = [c.name for c in scored_criteria if (a.pk, bid.pk, c.pk) not in scores]
            if gaps:
                missing.append(
                    _("评审专家%(name)s尚未对%(agency)s的投标评分（%(criteria)s）")
                    % {"name": a.evaluator, "agency": bid.agency.name, "criteria": "、".join(gaps)}
                )

    lowest = min((b.price for b in qualified), default=None)
    unordered = []
    for bid in qualified:
        price_score = _price_score(lowest, bid.price)
        parts = []
        for c in criteria:
            if c.kind == Criterion.Kind.PRICE:
                mean: Decimal | None = price_score
            else:
                values = [
                    scores[(a.pk, bid.pk, c.pk)] for a in judges if (a.pk, bid.pk, c.pk) in scores
                ]
                mean = _q(sum(values, Decimal("0")) / len(values)) if values else None
            weighted = _q(mean * c.weight / HUNDRED) if mean is not None else Decimal("0.00")
            parts.append(CriterionScore(criterion=c, mean=mean, weighted=weighted))
        total = sum((p.weighted for p in parts), Decimal("0.00"))
        unordered.append((bid, price_score, parts, total))
    unordered.sort(key=lambda r: (-r[3], r[0].price, r[0].submitted_at, r[0].pk))
    rows = [
        RankRow(
            bid=bid,
            price=bid.price,
            price_score=price_score,
            criteria=parts,
            total=total,
            rank=position,
        )
        for position, (bid, price_score, parts, total) in enumerate(unordered, start=1)
    ]
    return LotRanking(complete=not missing, missing=missing, rows=rows, lot=lot, criteria=criteria)


def tender_rankings(*, tender: Tender, lots: Iterable[Lot] | None = None) -> dict[int, LotRanking]:
    """The ranking of every lot of an opened tender, keyed by lot id, in a constant number of
    queries. Before opening there is nothing to rank."""
    lots = list(lots) if lots is not None else list(tender.lots.all())
    if not tender_opened(tender):
        not_open = [_("项目尚未开标")]
        return {
            lot.pk: LotRanking(complete=False, missing=not_open, rows=[], lot=lot) for lot in lots
        }
    lot_ids = [lot.pk for lot in lots]
    criteria = list(tender.criteria.all())
    bids_by_lot: dict[int, list[Bid]] = defaultdict(list)
    for bid in Bid.objects.filter(lot_id__in=lot_ids, status=Bid.Status.SUBMITTED).select_related(
        "agency"
    ):
        bids_by_lot[bid.lot_id].append(bid)
    assignments = list(tender.evaluators.select_related("evaluator").order_by("pk"))
    scores = {
        (a, b, c): s
        for a, b, c, s in Score.objects.filter(
            bid__lot_id__in=lot_ids, assignment__declaration=Declaration.NO_CONFLICT
        ).values_list("assignment_id", "bid_id", "criterion_id", "score")
    }
    return {
        lot.pk: rank_lot(
            criteria=criteria,
            bids=bids_by_lot[lot.pk],
            assignments=assignments,
            scores=scores,
            min_evaluators=settings.PROCUREMENT_MIN_EVALUATORS,
            lot=lot,
        )
        for lot in lots
    }


def lot_ranking(*, lot: Lot) -> LotRanking:
    """The ranking of one lot's qualified bids with the score breakdown, and whether the
    evaluation is complete (see `rank_lot`)."""
    return tender_rankings(tender=lot.tender, lots=[lot])[lot.pk]


def lot_ranking_get_for_user(*, lot_id: int, user: User) -> LotRanking:
    """A lot's ranking for civil affairs and auditors, after opening only; 404 otherwise."""
    scope = user_scope(user=user)
    lot = Lot.objects.select_related("tender").filter(pk=lot_id).first()
    if (
        lot is None
        or not scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR)
        or not tender_opened(lot.tender)
    ):
        raise Http404
    return lot_ranking(lot=lot)


# --- Civil affairs' evaluation page -----------------------------------------------------


def evaluation_tender_get_for_user(*, tender_id: int, user: User) -> Tender:
    """A tender's evaluation record: civil affairs from publication on (before opening they
    see the panel of evaluators only), auditors only once it is opened; 404 otherwise."""
    scope = user_scope(user=user)
    tender = Tender.objects.select_related("buyer").filter(pk=tender_id).first()
    if tender is None or tender.status == Tender.Status.DRAFT:
        raise Http404
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return tender
    if scope.has(Role.AUDITOR) and tender_opened(tender):
        return tender
    raise Http404


def evaluation_lots(*, tender: Tender) -> list[Lot]:
    """The tender's lots, each with `live_bids` (submitted bids with agency and `team_size`)
    once it is opened, and none before."""
    opened = tender_opened(tender)
    bids = (
        Bid.objects.filter(status=Bid.Status.SUBMITTED)
        .select_related("agency", "qualified_by")
        .annotate(team_size=Count("team"))
        .order_by("pk")
    )
    if not opened:
        bids = bids.none()
    return list(
        tender.lots.select_related("street", "catalogue_item").prefetch_related(
            Prefetch("bids", queryset=bids, to_attr="live_bids")
        )
    )


@dataclass(frozen=True)
class EvaluatorProgress:
    """How far one evaluator is: scores given against scores expected on open lots."""

    assignment: EvaluatorAssignment
    scored: int
    expected: int

    @property
    def done(self) -> bool:
        return self.assignment.declaration == Declaration.NO_CONFLICT and (
            self.scored >= self.expected
        )


def evaluation_progress(*, tender: Tender) -> list[EvaluatorProgress]:
    """Each evaluator of the tender with their declaration and how many of the expected
    scores (qualified bids of open lots × non-price criteria) they have given."""
    assignments = list(tender.evaluators.select_related("evaluator").order_by("pk"))
    if not tender_opened(tender):
        return [EvaluatorProgress(assignment=a, scored=0, expected=0) for a in assignments]
    qualified = Q(
        bid__status=Bid.Status.SUBMITTED,
        bid__qualification=Bid.Qualification.PASSED,
        bid__lot__status=Lot.Status.OPEN,
        bid__lot__tender=tender,
    )
    n_criteria = tender.criteria.exclude(kind=Criterion.Kind.PRICE).count()
    n_bids = Bid.objects.filter(
        lot__tender=tender,
        lot__status=Lot.Status.OPEN,
        status=Bid.Status.SUBMITTED,
        qualification=Bid.Qualification.PASSED,
    ).count()
    counts = dict(
        Score.objects.filter(qualified, assignment__tender=tender)
        .exclude(criterion__kind=Criterion.Kind.PRICE)
        .values_list("assignment_id")
        .annotate(n=Count("pk"))
        .values_list("assignment_id", "n")
    )
    expected = n_criteria * n_bids
    return [
        EvaluatorProgress(
            assignment=a,
            scored=counts.get(a.pk, 0) if a.declaration == Declaration.NO_CONFLICT else 0,
            expected=expected if a.declaration != Declaration.CONFLICT else 0,
        )
        for a in assignments
    ]


def evaluator_choices(*, tender: Tender) -> QuerySet[User]:
    """Experts of the evaluator pool not yet on this tender's panel."""
    return (
        User.objects.filter(memberships__role=Role.EVALUATOR, is_active=True)
        .exclude(evaluations__tender=tender)
        .distinct()
        .order_by("display_name", "username")
    )


def award_list_for_tender(*, tender: Tender) -> list[Award]:
    """Every award of the tender (cancelled ones included: they are part of the record), with
    the winner and the complaints."""
    return list(
        Award.objects.filter(lot__tender=tender)
        .select_related("lot", "bid__agency", "decided_by")
        .prefetch_related(
            Prefetch(
                "complaints",
                queryset=Complaint.objects.select_related("organisation", "answered_by"),
            )
        )
        .order_by("lot__number", "-decided_at", "-pk")
    )


# --- Red flags --------------------------------------------------------------------------


@dataclass(frozen=True)
class RedFlag:
    """A pattern in the bids that civil affairs should look into before awarding."""

    code: str
    message: str
    lot: Lot | None
    agencies: list[Organisation]


def _names(agencies: Iterable[Organisation]) -> str:
    return "、".join(a.name for a in agencies)


def _representative_key(name: str) -> str:
    return "".join((name or "").split()).casefold()


def tender_red_flags(*, tender: Tender) -> list[RedFlag]:
    """Warnings on an opened tender's bids: a lot with a single bidder; bidding agencies that
    share a phone or a legal representative; a lot where two or more prices sit just under
    the budget (within settings.PROCUREMENT_PRICE_CLUSTER of it). Before opening: none, so
    nothing about the bids leaks."""
    if not tender_opened(tender):
        return []
    bids = list(
        Bid.objects.filter(lot__tender=tender, status=Bid.Status.SUBMITTED)
        .select_related("agency", "lot")
        .order_by("lot__number", "pk")
    )
    flags: list[RedFlag] = []
    by_lot: dict[int, list[Bid]] = defaultdict(list)
    for bid in bids:
        by_lot[bid.lot_id].append(bid)
    band = settings.PROCUREMENT_PRICE_CLUSTER
    for lot_bids in by_lot.values():
        lot = lot_bids[0].lot
        if len(lot_bids) == 1:
            flags.append(
                RedFlag(
                    code="SINGLE_BIDDER",
                    message=_("%(lot)s只有一家机构投标：%(agency)s。")
                    % {"lot": lot, "agency": lot_bids[0].agency.name},
                    lot=lot,
                    agencies=[lot_bids[0].agency],
                )
            )
        floor = lot.budget * (1 - band)
        near = [b for b in lot_bids if b.price is not None and floor <= b.price <= lot.budget]
        if len(near) >= 2:
            flags.append(
                RedFlag(
                    code="PRICE_CLUSTER",
                    message=_(
                        "%(lot)s有%(n)s家机构的报价集中在预算%(budget)s元下方%(pct)s%%以内：%(names)s。"
                    )
                    % {
                        "lot": lot,
                        "n": len(near),
                        "budget": lot.budget,
                        "pct": (band * 100).normalize(),
                        "names": _names(b.agency for b in near),
                    },
                    lot=lot,
                    agencies=[b.agency for b in near],
                )
            )
    agencies = list({b.agency_id: b.agency for b in bids}.values())
    phones: dict[str, list[Organisation]] = defaultdict(list)
    people: dict[str, list[Organisation]] = defaultdict(list)
    for agency in agencies:
        if agency.phone_hash:
            phones[agency.phone_hash].append(agency)
        key = _representative_key(agency.legal_representative)
        if key:
            people[key].append(agency)
    for group in phones.values():
        if len(group) >= 2:
            flags.append(
                RedFlag(
                    code="SHARED_PHONE",
                    message=_("投标机构%(names)s登记的联系电话相同。") % {"names": _names(group)},
                    lot=None,
                    agencies=group,
                )
            )
    for group in people.values():
        if len(group) >= 2:
            flags.append(
                RedFlag(
                    code="SHARED_REPRESENTATIVE",
                    message=_("投标机构%(names)s的法定代表人相同（%(person)s）。")
                    % {"names": _names(group), "person": group[0].legal_representative.strip()},
                    lot=None,
                    agencies=group,
                )
            )
    return flags


# --- Evaluators' pages ------------------------------------------------------------------


def assignment_list_for_user(*, user: User) -> QuerySet[EvaluatorAssignment]:
    """The evaluator's own assignments on opened tenders; nothing of a tender shows here
    before its bids are opened."""
    if not user_scope(user=user).has(Role.EVALUATOR):
        return EvaluatorAssignment.objects.none()
    return (
        EvaluatorAssignment.objects.filter(
            evaluator=user,
            tender__status__in=[Tender.Status.OPENED, Tender.Status.COMPLETE],
            tender__bid_closes_at__lte=timezone.now(),
        )
        .select_related("tender")
        .order_by("-tender__bid_closes_at", "-pk")
    )


def assignment_get_for_user(*, assignment_id: int, user: User) -> EvaluatorAssignment:
    """One of the evaluator's own assignments on an opened tender; 404 otherwise."""
    try:
        return assignment_list_for_user(user=user).get(pk=assignment_id)
    except EvaluatorAssignment.DoesNotExist as exc:
        raise Http404 from exc


def bidding_agency_names(*, tender: Tender) -> list[str]:
    """The names of the agencies that bid, and nothing else: what an evaluator needs to
    declare a conflict of interest."""
    if not tender_opened(tender):
        return []
    return list(
        Organisation.objects.filter(bids__lot__tender=tender, bids__status=Bid.Status.SUBMITTED)
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )


@dataclass(frozen=True)
class AssignmentLot:
    """A lot as one evaluator sees it: its qualified bids, each with `my_scores` (how many
    criteria this evaluator has scored), and whether scores may still change."""

    lot: Lot
    bids: list[Bid]
    criteria_count: int

    @property
    def open(self) -> bool:
        return self.lot.status == Lot.Status.OPEN


def assignment_lots(*, assignment: EvaluatorAssignment) -> list[AssignmentLot]:
    """The lots and qualified bids an evaluator scores; none unless they declared no
    conflict (a recused evaluator never sees bid content)."""
    tender = assignment.tender
    if assignment.declaration != Declaration.NO_CONFLICT or not tender_opened(tender):
        return []
    n_criteria = tender.criteria.exclude(kind=Criterion.Kind.PRICE).count()
    bids = (
        Bid.objects.filter(status=Bid.Status.SUBMITTED, qualification=Bid.Qualification.PASSED)
        .select_related("agency")
        .annotate(
            my_scores=Count(
                "scores",
                filter=Q(scores__assignment=assignment)
                & ~Q(scores__criterion__kind=Criterion.Kind.PRICE),
            )
        )
        .order_by("pk")
    )
    lots = tender.lots.prefetch_related(Prefetch("bids", queryset=bids, to_attr="qualified"))
    return [AssignmentLot(lot=lot, bids=lot.qualified, criteria_count=n_criteria) for lot in lots]


def score_sheet_get(
    *, assignment: EvaluatorAssignment, bid_id: int
) -> tuple[Bid, list[Criterion], dict[int, Score]]:
    """The bid an evaluator scores, the non-price criteria and their own scores so far;
    404 unless they declared no conflict and the bid is a qualified bid of the tender."""
    if assignment.declaration != Declaration.NO_CONFLICT or not tender_opened(assignment.tender):
        raise Http404
    bid = (
        Bid.objects.filter(
            pk=bid_id,
            lot__tender_id=assignment.tender_id,
            status=Bid.Status.SUBMITTED,
            qualification=Bid.Qualification.PASSED,
        )
        .select_related("agency", "lot")
        .annotate(team_size=Count("team"))
        .first()
    )
    if bid is None:
        raise Http404
    criteria = list(
        assignment.tender.criteria.exclude(kind=Criterion.Kind.PRICE).order_by("position", "pk")
    )
    mine = {s.criterion_id: s for s in Score.objects.filter(assignment=assignment, bid=bid)}
    return bid, criteria, mine


# --- Bidders' awards and complaints -----------------------------------------------------


def _agency_ids(user: User) -> set[int]:
    return {
        m.organisation_id
        for m in user_scope(user=user).memberships
        if m.role == Role.AGENCY_STAFF and m.organisation_id
    }


def award_list_for_bidder(*, user: User) -> QuerySet[Award]:
    """Awards of lots the user's agencies bid on, newest first."""
    ids = _agency_ids(user)
    if not ids:
        return Award.objects.none()
    lots = Bid.objects.filter(agency_id__in=ids, status=Bid.Status.SUBMITTED).values("lot_id")
    return (
        Award.objects.filter(lot_id__in=lots)
        .select_related("lot__tender", "bid__agency")
        .order_by("-decided_at", "-pk")
    )


def award_get_for_bidder(*, award_id: int, user: User) -> Award:
    """One award of a lot the user's agency bid on; 404 otherwise."""
    try:
        return award_list_for_bidder(user=user).get(pk=award_id)
    except Award.DoesNotExist as exc:
        raise Http404 from exc


def complaint_list_for_user(*, user: User) -> QuerySet[Complaint]:
    """Complaints lodged by the user's agencies, newest first."""
    ids = _agency_ids(user)
    return (
        Complaint.objects.filter(organisation_id__in=ids)
        .select_related("award__lot__tender", "award__bid__agency", "organisation")
        .order_by("-lodged_at", "-pk")
    )


def complaint_get_for_user(*, complaint_id: int, user: User) -> Complaint:
    """A complaint for civil affairs to answer; 404 for anyone else."""
    if not user_scope(user=user).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        raise Http404
    try:
        return Complaint.objects.select_related("award__lot__tender").get(pk=complaint_id)
    except Complaint.DoesNotExist as exc:
        raise Http404 from exc


def complaint_organisations(*, award: Award, user: User) -> list[Organisation]:
    """The user's agencies that may complain about this award: they bid on its lot and did
    not win it."""
    ids = _agency_ids(user) - {award.bid.agency_id}
    return list(
        Organisation.objects.filter(
            pk__in=ids, bids__lot_id=award.lot_id, bids__status=Bid.Status.SUBMITTED
        )
        .distinct()
        .order_by("name")
    )
