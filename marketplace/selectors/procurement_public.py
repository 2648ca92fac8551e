"""What the public may read of government purchase of services: the live catalogue by year,
published tenders with their answered questions, and, once the bid window has closed, bid
counts, bidders, award results and contracts. Nothing here reveals a bid's content or who
asked a question; before the close not even the number of bids leaves this module. The public
pages and the OCDS release both read through these functions, each in a fixed number of
queries whatever the number of rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from marketplace.models import (
    Award,
    Bid,
    CatalogueItem,
    Complaint,
    Contract,
    Criterion,
    Lot,
    Milestone,
    Tender,
)

__all__ = [
    "CatalogueYear",
    "LotResult",
    "PublicBidder",
    "PublicQuestion",
    "RankingEntry",
    "TenderDisclosure",
    "catalogue_items_public",
    "catalogue_years_public",
    "tender_disclosure_public",
    "tender_get_public",
    "tender_list_public",
]

PUBLIC_STATUSES = [
    Tender.Status.PUBLISHED,
    Tender.Status.OPENED,
    Tender.Status.COMPLETE,
    Tender.Status.CANCELLED,
]


# --- Catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueYear:
    """One year of the published catalogue: how many items, and how many on the service list."""

    year: int
    items: int
    listed: int


def catalogue_years_public() -> list[CatalogueYear]:
    """Every year that has at least one published (live) catalogue item, newest first."""
    rows = (
        CatalogueItem.objects.filter(live=True)
        .values("year")
        .annotate(items=Count("pk"), listed=Count("pk", filter=Q(in_service_list=True)))
        .order_by("-year")
    )
    return [CatalogueYear(year=r["year"], items=r["items"], listed=r["listed"]) for r in rows]


def catalogue_items_public(
    *, year: int, category: str = "", service_list_only: bool = False
) -> QuerySet[CatalogueItem]:
    """The live items of one year's catalogue in code order, narrowed by category and to the
    service list when asked. A row of a live item holds its published content (drafts of a
    live item stay in its revisions), so reading rows never shows an unpublished edit.
    404 when the year has no published item at all."""
    items = CatalogueItem.objects.filter(live=True, year=year)
    if not items.exists():
        raise Http404
    if category:
        items = items.filter(category=category)
    if service_list_only:
        items = items.filter(in_service_list=True)
    return items.select_related("service_type").order_by("code", "pk")


# --- Tenders --------------------------------------------------------------------------------


def _public_tenders() -> QuerySet[Tender]:
    return Tender.objects.filter(status__in=PUBLIC_STATUSES)


def tender_list_public(
    *, status: str = "", year: int | None = None, street: int | None = None
) -> QuerySet[Tender]:
    """Published tenders (never drafts), latest bid deadline first, with their lots, each
    lot's street and catalogue item loaded up front; narrowed by status, year and a street
    that one of the lots serves."""
    tenders = _public_tenders().prefetch_related(
        Prefetch(
            "lots",
            queryset=Lot.objects.select_related("street", "catalogue_item").order_by("number"),
        )
    )
    if status:
        tenders = tenders.filter(status=status)
    if year is not None:
        tenders = tenders.filter(year=year)
    if street is not None:
        tenders = tenders.filter(pk__in=Lot.objects.filter(street_id=street).values("tender_id"))
    return tenders.order_by("-bid_closes_at", "-pk")


def tender_get_public(*, tender_id: int) -> Tender:
    """One published tender with its buyer; 404 for a draft or a tender that does not exist."""
    tender = _public_tenders().select_related("buyer").filter(pk=tender_id).first()
    if tender is None:
        raise Http404
    return tender


@dataclass(frozen=True)
class PublicQuestion:
    """An answered enquiry as the public sees it: never who asked or who answered."""

    question: str
    answer: str
    asked_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class PublicBidder:
    """An organisation that bid on the tender (known only after the close)."""

    id: int
    name: str
    credit_code: str


@dataclass(frozen=True)
class RankingEntry:
    """One row of an award's ranking as published: rank, agency name and total score."""

    rank: int | None
    agency: str
    total: Decimal | None


@dataclass
class LotResult:
    """A lot with what may be said of it now: bids counted after the close, the standing
    award with its published ranking, answered complaints and signed contracts."""

    lot: Lot
    bid_count: int | None
    award: Award | None
    ranking: list[RankingEntry]
    complaints_answered: int
    contracts: list[Contract]


@dataclass
class TenderDisclosure:
    """Everything public about one tender. `closed` says whether the bid window has closed;
    before it `tenderers` is None and no lot has a bid count."""

    tender: Tender
    closed: bool
    lots: list[LotResult]
    criteria: list[Criterion]
    questions: list[PublicQuestion]
    question_count: int
    tenderers: list[PublicBidder] | None
    awards: list[Award] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)

    @property
    def budget(self) -> Decimal:
        return sum((r.lot.budget for r in self.lots), Decimal("0"))

    @property
    def last_activity(self) -> datetime | None:
        """The latest moment something public happened to the tender."""
        moments = [self.tender.published_at]
        if self.closed:
            moments.append(self.tender.opened_at or self.tender.bid_closes_at)
        for award in self.awards:
            moments.append(award.decided_at)
        for contract in self.contracts:
            moments.append(contract.signed_at)
            for milestone in contract.milestones.all():
                moments.extend([milestone.decided_at, milestone.last_delivery])
        return max((m for m in moments if m is not None), default=None)


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def _ranking(award: Award, names: dict[int, str], bid_agency: dict[int, int]) -> list[RankingEntry]:
    """Only rank, agency name and total of each ranking row leave: the JSON the award was
    decided on may hold more (prices, per-criterion scores, bid ids) than is published."""
    entries = []
    for position, row in enumerate(award.ranking or [], start=1):
        if not isinstance(row, dict):
            continue
        agency_id = row.get("agency_id")
        if agency_id is None and row.get("bid_id", row.get("bid")) is not None:
            agency_id = bid_agency.get(row.get("bid_id", row.get("bid")))
        name = row.get("agency_name") or (
            row["agency"] if isinstance(row.get("agency"), str) else None
        )
        name = name or names.get(agency_id, "")
        rank = row.get("rank", position)
        entries.append(
            RankingEntry(
                rank=int(rank) if isinstance(rank, int | str) and str(rank).isdigit() else None,
                agency=name,
                total=_decimal(row.get("total")),
            )
        )
    return entries


def tender_disclosure_public(*, tender: Tender) -> TenderDisclosure:
    """The public record of a published tender (from `tender_get_public`): lots, criteria,
    answered questions, and after the close bid counts, bidders, awards (the standing one per
    lot, and all of them for the record) and contracts with each milestone's delivered
    units. Draft tenders are refused. Nine queries, whatever the number of rows."""
    if tender.status not in PUBLIC_STATUSES:
        raise Http404
    closed = tender.closed()
    lots = list(
        Lot.objects.filter(tender=tender)
        .select_related("street", "catalogue_item")
        .order_by("number")
    )
    criteria = list(Criterion.objects.filter(tender=tender).order_by("position", "pk"))
    questions = tender.questions.aggregate(
        total=Count("pk"), answered=Count("pk", filter=~Q(answer=""))
    )
    answered = [
        PublicQuestion(
            question=row["question"],
            answer=row["answer"],
            asked_at=row["asked_at"],
            answered_at=row["answered_at"],
        )
        for row in tender.questions.exclude(answer="")
        .order_by("answered_at", "pk")
        .values("question", "answer", "asked_at", "answered_at")
    ]

    tenderers = None
    counts: Counter[int] = Counter()
    names: dict[int, str] = {}
    bid_agency: dict[int, int] = {}
    awards: list[Award] = []
    contracts: list[Contract] = []
    if closed:
        # Only who bid on which lot: the sealed content and the plain fields are never read.
        bids = (
            Bid.objects.filter(lot__tender=tender, status=Bid.Status.SUBMITTED)
            .order_by("agency__name", "pk")
            .values("pk", "lot_id", "agency_id", "agency__name", "agency__credit_code")
        )
        bidders: dict[int, PublicBidder] = {}
        for row in bids:
            counts[row["lot_id"]] += 1
            bid_agency[row["pk"]] = row["agency_id"]
            names[row["agency_id"]] = row["agency__name"]
            bidders.setdefault(
                row["agency_id"],
                PublicBidder(
                    id=row["agency_id"],
                    name=row["agency__name"],
                    credit_code=row["agency__credit_code"],
                ),
            )
        tenderers = list(bidders.values())
        awards = list(
            Award.objects.filter(lot__tender=tender)
            .select_related("lot", "bid__agency")
            .annotate(
                complaints_answered=Count(
                    "complaints", filter=~Q(complaints__status=Complaint.Status.OPEN)
                )
            )
            .order_by("decided_at", "pk")
        )
        delivered = (
            Milestone.objects.select_related("street")
            .annotate(
                delivered=Coalesce(Sum("deliveries__units"), Value(Decimal("0"))),
                last_delivery=Max("deliveries__created_at"),
            )
            .order_by("position")
        )
        contracts = list(
            Contract.objects.filter(lot__tender=tender)
            .select_related("agency")
            .prefetch_related(Prefetch("milestones", queryset=delivered))
            .order_by("signed_at", "pk")
        )

    results = []
    for lot in lots:
        standing = [a for a in awards if a.lot_id == lot.pk and a.status != Award.Status.CANCELLED]
        award = standing[-1] if standing else None
        results.append(
            LotResult(
                lot=lot,
                bid_count=counts[lot.pk] if closed else None,
                award=award,
                ranking=_ranking(award, names, bid_agency) if award else [],
                complaints_answered=award.complaints_answered if award else 0,
                contracts=[c for c in contracts if c.lot_id == lot.pk],
            )
        )
    return TenderDisclosure(
        tender=tender,
        closed=closed,
        lots=results,
        criteria=criteria,
        questions=answered,
        question_count=questions["total"],
        tenderers=tenderers,
        awards=awards,
        contracts=contracts,
    )
