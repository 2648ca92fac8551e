"""Reads of the contract stage: contracts in the user's scope with their milestones,
delivery records, reviews and samples; the progress of each milestone; an agency's track
record (which later tenders and matching read); and the contracted supply per street and
service type that matching can assign needs to.

Civil affairs and auditors read every contract; agency staff read their own agency's;
anyone else reads none. Outside the scope a page answers 404, so existence is not leaked."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from marketplace.models import (
    Award,
    Contract,
    DeliveryRecord,
    Milestone,
    Organisation,
    PerformanceReview,
    ReviewSample,
    Role,
    User,
)
from marketplace.selectors.directory import user_scope
from marketplace.services.contracts import (
    OPEN_FOR_DELIVERY,
    agency_staff_organisation_ids,
    sample_draw,
    sample_size,
)

__all__ = [
    "ContractSupply",
    "MilestoneProgress",
    "TrackRecord",
    "agency_track_record",
    "agency_track_records",
    "award_get_for_signing",
    "award_list_awaiting_contract",
    "contract_actions",
    "contract_get_for_user",
    "contract_list_for_user",
    "contract_supply_list",
    "delivery_record_get_for_user",
    "delivery_record_list",
    "milestone_get_for_user",
    "milestone_progress",
    "review_get_for_user",
    "review_list",
    "review_redraw",
    "sample_get_for_user",
    "sample_list",
]

ZERO = Decimal("0")
_UNITS = DecimalField(max_digits=14, decimal_places=2)


def _delivered_subquery(prefix: str = ""):
    """Units delivered towards the milestone of the outer row (`prefix` leads to it)."""
    return Coalesce(
        Subquery(
            DeliveryRecord.objects.filter(milestone_id=OuterRef(f"{prefix}pk"))
            .values("milestone_id")
            .annotate(total=Sum("units"))
            .values("total"),
            output_field=_UNITS,
        ),
        Value(ZERO),
        output_field=_UNITS,
    )


# --- Contracts -----------------------------------------------------------------------------


def contract_list_for_user(*, user: User) -> QuerySet[Contract]:
    """Contracts the user may read, with the lot, tender, street, agency, the total target
    and the units delivered so far loaded for list pages."""
    qs = Contract.objects.select_related(
        "lot__tender", "lot__street", "lot__catalogue_item", "agency"
    ).annotate(
        units_target=Coalesce(
            Subquery(
                Milestone.objects.filter(contract_id=OuterRef("pk"))
                .values("contract_id")
                .annotate(total=Sum("units_target"))
                .values("total"),
                output_field=IntegerField(),
            ),
            Value(0),
        ),
        units_delivered=Coalesce(
            Subquery(
                DeliveryRecord.objects.filter(milestone__contract_id=OuterRef("pk"))
                .values("milestone__contract_id")
                .annotate(total=Sum("units"))
                .values("total"),
                output_field=_UNITS,
            ),
            Value(ZERO),
            output_field=_UNITS,
        ),
    )
    scope = user_scope(user=user)
    if scope.district_wide:
        return qs
    agencies = agency_staff_organisation_ids(user=user)
    if not agencies:
        return qs.none()
    return qs.filter(agency_id__in=agencies)


def contract_get_for_user(*, contract_id: int, user: User) -> Contract:
    """One contract in the user's scope; 404 outside it."""
    try:
        return contract_list_for_user(user=user).get(pk=contract_id)
    except Contract.DoesNotExist as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class ContractActions:
    """What the user may do on a contract's page (the services check again)."""

    manage: bool  # civil affairs: accept milestones, draw and complete reviews
    deliver: bool  # the agency's staff: enter deliveries, log team work, submit milestones


def contract_actions(*, contract: Contract, user: User) -> ContractActions:
    """The buttons a contract's page shows to this user; auditors get none."""
    scope = user_scope(user=user)
    return ContractActions(
        manage=scope.has(Role.CIVIL_AFFAIRS_OFFICIAL),
        deliver=contract.agency_id in agency_staff_organisation_ids(user=user)
        and contract.status == Contract.Status.ACTIVE,
    )


def award_list_awaiting_contract(*, user: User) -> QuerySet[Award]:
    """Final awards that still wait for their contract (civil affairs only)."""
    if not user_scope(user=user).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return Award.objects.none()
    return (
        Award.objects.filter(status=Award.Status.FINAL, contract__isnull=True)
        .select_related("lot__tender", "lot__street", "bid__agency")
        .order_by("decided_at", "pk")
    )


def award_get_for_signing(*, award_id: int, user: User) -> Award:
    """An award civil affairs may sign a contract for (final or not: the service says why
    it may not); 404 for anyone else."""
    if not user_scope(user=user).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        raise Http404
    try:
        return Award.objects.select_related(
            "lot__tender", "lot__street", "lot__catalogue_item", "bid__agency"
        ).get(pk=award_id)
    except Award.DoesNotExist as exc:
        raise Http404 from exc


# --- Milestones and deliveries -------------------------------------------------------------


@dataclass(frozen=True)
class MilestoneProgress:
    """A milestone with the units delivered towards it."""

    milestone: Milestone
    delivered: Decimal
    remaining: Decimal
    percent: int  # 0–100, for a progress bar
    open_for_delivery: bool


def milestone_progress(*, contract: Contract) -> list[MilestoneProgress]:
    """Each milestone of the contract in order with its delivered units, from one query."""
    rows = (
        Milestone.objects.filter(contract=contract)
        .select_related("street", "service_type", "decided_by")
        .annotate(delivered=_delivered_subquery())
        .order_by("position")
    )
    result = []
    for m in rows:
        delivered = m.delivered or ZERO
        target = Decimal(m.units_target)
        ratio = (delivered / target * 100) if target else Decimal(100)
        result.append(
            MilestoneProgress(
                milestone=m,
                delivered=delivered,
                remaining=max(target - delivered, ZERO),
                percent=int(min(ratio, Decimal(100))),
                open_for_delivery=m.status in OPEN_FOR_DELIVERY,
            )
        )
    return result


def milestone_get_for_user(*, milestone_id: int, user: User) -> Milestone:
    """A milestone of a contract the user may read; 404 otherwise."""
    contracts = contract_list_for_user(user=user).values("pk")
    try:
        return Milestone.objects.select_related("contract").get(
            pk=milestone_id, contract__in=contracts
        )
    except Milestone.DoesNotExist as exc:
        raise Http404 from exc


def delivery_record_list(*, contract: Contract) -> QuerySet[DeliveryRecord]:
    """The contract's delivery records, newest service date first."""
    return DeliveryRecord.objects.filter(milestone__contract=contract).select_related(
        "milestone", "entered_by"
    )


def delivery_record_get_for_user(*, record_id: int, user: User) -> DeliveryRecord:
    """A delivery record of a contract the user may read (the agency, civil affairs,
    auditors); 404 otherwise."""
    contracts = contract_list_for_user(user=user).values("pk")
    try:
        return DeliveryRecord.objects.select_related("milestone__contract").get(
            pk=record_id, milestone__contract__in=contracts
        )
    except DeliveryRecord.DoesNotExist as exc:
        raise Http404 from exc


# --- Reviews -------------------------------------------------------------------------------


def _reviews_visible(user: User) -> Q:
    """Civil affairs and auditors see reviews while the sample is being verified; the
    agency sees a review only once it is completed, so it cannot learn in advance which
    records will be visited."""
    if user_scope(user=user).district_wide:
        return Q()
    return Q(status=PerformanceReview.Status.COMPLETED)


def review_list(*, contract: Contract, user: User) -> QuerySet[PerformanceReview]:
    """The contract's reviews the user may see, newest first."""
    return (
        contract.reviews.filter(_reviews_visible(user))
        .select_related("drawn_by", "completed_by")
        .order_by("-drawn_at")
    )


def review_get_for_user(*, review_id: int, user: User) -> PerformanceReview:
    """A review of a contract the user may read (for the agency, once completed); 404
    otherwise."""
    contracts = contract_list_for_user(user=user).values("pk")
    try:
        return (
            PerformanceReview.objects.filter(_reviews_visible(user))
            .select_related("contract__agency", "contract__lot__tender", "drawn_by", "completed_by")
            .get(pk=review_id, contract__in=contracts)
        )
    except PerformanceReview.DoesNotExist as exc:
        raise Http404 from exc


def sample_list(*, review: PerformanceReview) -> QuerySet[ReviewSample]:
    """The sampled records of a review with what a verification visit needs to know."""
    return review.samples.select_related("record__milestone", "checked_by").order_by(
        "record__delivered_on", "pk"
    )


def sample_get_for_user(*, sample_id: int, user: User) -> ReviewSample:
    """A sampled record of a review the user may see; 404 otherwise."""
    review = ReviewSample.objects.filter(pk=sample_id).values_list("review_id", flat=True).first()
    if review is None:
        raise Http404
    review_get_for_user(review_id=review, user=user)
    return ReviewSample.objects.select_related("review").get(pk=sample_id)


def review_redraw(*, review: PerformanceReview) -> list[int]:
    """The record ids the review's stored seed draws from its population at the time of
    the draw (the contract's first `population` records by id). Equal to the stored sample
    when nobody chose it by hand."""
    ids = list(
        DeliveryRecord.objects.filter(milestone__contract_id=review.contract_id)
        .order_by("pk")
        .values_list("pk", flat=True)[: review.population]
    )
    return sample_draw(
        seed=review.seed,
        record_ids=ids,
        size=sample_size(rate=review.sample_rate, population=len(ids)),
    )


# --- Track record --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackRecord:
    """An agency's record in purchased services: its contracts and the completed reviews
    of them, and how often sampled records proved true on a visit."""

    organisation_id: int
    contracts: int = 0
    contracts_completed: int = 0
    reviews: int = 0
    mean_score: Decimal | None = None
    latest_score: Decimal | None = None
    latest_reviewed_at: datetime | None = None
    samples_checked: int = 0
    samples_confirmed: int = 0

    @property
    def verification_rate(self) -> Decimal | None:
        """Confirmed ÷ checked samples (0–1), None before any visit."""
        if not self.samples_checked:
            return None
        return Decimal(self.samples_confirmed) / Decimal(self.samples_checked)

    @property
    def verification_percent(self) -> Decimal | None:
        rate = self.verification_rate
        if rate is None:
            return None
        return (rate * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def agency_track_records(*, organisation_ids) -> dict[int, TrackRecord]:
    """Track records of several agencies in three queries, every id present (an agency
    without contracts has an empty record)."""
    ids = sorted({int(i) for i in organisation_ids})
    if not ids:
        return {}
    contracts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for agency_id, status in Contract.objects.filter(agency_id__in=ids).values_list(
        "agency_id", "status"
    ):
        contracts[agency_id][0] += 1
        if status == Contract.Status.COMPLETED:
            contracts[agency_id][1] += 1
    reviews: dict[int, list[tuple]] = defaultdict(list)
    for agency_id, score, completed_at in (
        PerformanceReview.objects.filter(
            contract__agency_id__in=ids, status=PerformanceReview.Status.COMPLETED
        )
        .order_by("-completed_at", "-pk")
        .values_list("contract__agency_id", "score", "completed_at")
    ):
        reviews[agency_id].append((score, completed_at))
    samples: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for agency_id, result in (
        ReviewSample.objects.filter(review__contract__agency_id__in=ids)
        .exclude(result=ReviewSample.Result.PENDING)
        .values_list("review__contract__agency_id", "result")
    ):
        samples[agency_id][0] += 1
        if result == ReviewSample.Result.CONFIRMED:
            samples[agency_id][1] += 1
    records = {}
    for agency_id in ids:
        done = reviews.get(agency_id, [])
        scores = [s for s, _ in done if s is not None]
        mean = (
            (sum(scores, ZERO) / len(scores)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if scores
            else None
        )
        records[agency_id] = TrackRecord(
            organisation_id=agency_id,
            contracts=contracts[agency_id][0] if agency_id in contracts else 0,
            contracts_completed=contracts[agency_id][1] if agency_id in contracts else 0,
            reviews=len(done),
            mean_score=mean,
            latest_score=done[0][0] if done else None,
            latest_reviewed_at=done[0][1] if done else None,
            samples_checked=samples[agency_id][0] if agency_id in samples else 0,
            samples_confirmed=samples[agency_id][1] if agency_id in samples else 0,
        )
    return records


def agency_track_record(*, organisation: Organisation) -> TrackRecord:
    """One agency's track record."""
    return agency_track_records(organisation_ids=[organisation.pk])[organisation.pk]


# --- Supply --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractSupply:
    """Contracted capacity still to be delivered by an agency in a street, for a service
    type: what matching can assign needs to."""

    contract_id: int
    agency_id: int
    service_type_id: int
    street_id: int
    unit: str
    units_target: int
    units_delivered: Decimal
    units_remaining: Decimal


def contract_supply_list() -> list[ContractSupply]:
    """Per active contract, street and service type: the milestones' target, the units
    delivered and what remains, read in one query."""
    rows = (
        Milestone.objects.filter(contract__status=Contract.Status.ACTIVE)
        .annotate(delivered=_delivered_subquery())
        .order_by("contract_id", "street_id", "service_type_id", "position")
        .values_list(
            "contract_id",
            "contract__agency_id",
            "street_id",
            "service_type_id",
            "unit",
            "units_target",
            "delivered",
        )
    )
    groups: dict[tuple, list] = {}
    for contract_id, agency_id, street_id, service_type_id, unit, target, delivered in rows:
        key = (contract_id, agency_id, street_id, service_type_id, unit)
        totals = groups.setdefault(key, [0, ZERO])
        totals[0] += target
        totals[1] += delivered or ZERO
    return [
        ContractSupply(
            contract_id=contract_id,
            agency_id=agency_id,
            service_type_id=service_type_id,
            street_id=street_id,
            unit=unit,
            units_target=target,
            units_delivered=delivered,
            units_remaining=max(Decimal(target) - delivered, ZERO),
        )
        for (contract_id, agency_id, street_id, service_type_id, unit), (
            target,
            delivered,
        ) in groups.items()
    ]
