"""Reads of tenders and bids under the sealed rule.

Before a tender's bid window closes a bid's content exists only as ciphertext; the plain
fields are written at opening. So every reader except the bidding agency itself goes through
the plain fields and sees nothing early, and the one path that decrypts before the opening
(`bid_sealed_content`, `bid_plan_read`) checks that the reader is the bidding agency."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace import crypto
from marketplace.models import (
    Bid,
    EvaluatorAssignment,
    Lot,
    Membership,
    Organisation,
    PerformanceReview,
    Role,
    Tender,
    TenderQuestion,
    User,
)
from marketplace.selectors.directory import user_scope

__all__ = [
    "AGENCY_KINDS",
    "BidContent",
    "agency_list_for_bidder",
    "agency_may_bid",
    "agency_reasons",
    "bid_count_public",
    "bid_get_for_user",
    "bid_list_for_tender",
    "bid_list_for_user",
    "bid_list_of_my_agencies",
    "bid_plan_read",
    "bid_sealed_content",
    "bid_sealed_payload",
    "bid_team_candidates",
    "bids_of_agencies_by_lot",
    "criterion_weight_total",
    "lot_get_for_user",
    "question_list_answered",
    "question_list_for_tender",
    "team_reasons",
    "tender_get_for_user",
    "tender_list_for_user",
    "tender_list_open_for_bids",
    "user_is_agency_staff",
]

# Organisation kinds that may bid.
AGENCY_KINDS = {Organisation.Kind.AGENCY, Organisation.Kind.SOCIAL_WORK_STATION}
# Tender states after the opening: the plain bid fields exist.
OPENED_STATES = {Tender.Status.OPENED, Tender.Status.COMPLETE}
# A completed review scored below this, within the look-back, disqualifies a bidder.
PASSING_REVIEW_SCORE = Decimal("60")
REVIEW_LOOKBACK = timedelta(days=730)


@dataclass(frozen=True)
class BidContent:
    """A bid's sealed content, decrypted for the bidding agency."""

    price: Decimal
    team: list[User] = field(default_factory=list)
    declarations: dict = field(default_factory=dict)
    plan_name: str = ""
    plan_sha256: str = ""


# --- Who is who -------------------------------------------------------------------------


def user_is_agency_staff(*, user: User, organisation: Organisation | int) -> bool:
    """Whether the user holds the agency-staff role in this organisation."""
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    return any(
        m.role == Role.AGENCY_STAFF and m.organisation_id == org_id
        for m in user_scope(user=user).memberships
    )


def _staff_agency_ids(user: User) -> set[int]:
    return {
        m.organisation_id
        for m in user_scope(user=user).memberships
        if m.role == Role.AGENCY_STAFF and m.organisation_id
    }


def agency_list_for_bidder(*, user: User) -> QuerySet[Organisation]:
    """The verified agencies and social-work stations the user may bid for (as their
    staff), by name."""
    return Organisation.objects.filter(
        pk__in=_staff_agency_ids(user), kind__in=AGENCY_KINDS, verified=True
    ).order_by("name", "pk")


def bid_team_candidates(*, agency: Organisation) -> QuerySet[User]:
    """The agency's social workers, who may form a bid's team."""
    return (
        User.objects.filter(memberships__organisation=agency, memberships__role=Role.SOCIAL_WORKER)
        .distinct()
        .order_by("display_name", "username")
    )


def _failed_review_recently(agency: Organisation) -> bool:
    since = timezone.now() - REVIEW_LOOKBACK
    return PerformanceReview.objects.filter(
        contract__agency=agency,
        status=PerformanceReview.Status.COMPLETED,
        completed_at__gte=since,
        score__lt=PASSING_REVIEW_SCORE,
    ).exists()


def agency_may_bid(
    *,
    lot: Lot,
    agency: Organisation,
    user: User | None = None,
    team: list[User] | None = None,
) -> list[str]:
    """Why `agency` may not bid on `lot` (empty: it may). With `user`, also whether they act
    for it; with `team`, whether the team is large enough and made of its social workers."""
    reasons = agency_reasons(lot=lot, agency=agency, user=user)
    if team is not None:
        reasons += team_reasons(lot=lot, agency=agency, team=team)
    return reasons


def agency_reasons(*, lot: Lot, agency: Organisation, user: User | None) -> list[str]:
    reasons = []
    if agency.kind not in AGENCY_KINDS:
        reasons.append(_("只有社会工作服务机构或社工站可以投标。"))
    if not agency.verified:
        reasons.append(_("该机构尚未通过民政局认证，不能投标。"))
    if user is not None and not user_is_agency_staff(user=user, organisation=agency):
        reasons.append(_("您不是该机构的工作人员，不能代表其投标。"))
    if agency.kind in AGENCY_KINDS and _failed_review_recently(agency):
        reasons.append(_("该机构近两年绩效评估不合格（低于60分），不具备投标资格。"))
    return reasons


def team_reasons(*, lot: Lot, agency: Organisation, team: list[User]) -> list[str]:
    reasons = []
    if len(team) < lot.min_team_size:
        reasons.append(
            _("服务团队至少需要 %(n)s 名社工，当前 %(m)s 名。")
            % {"n": lot.min_team_size, "m": len(team)}
        )
    workers = set(
        Membership.objects.filter(
            organisation=agency, role=Role.SOCIAL_WORKER, user__in=[u.pk for u in team]
        ).values_list("user_id", flat=True)
    )
    outsiders = [str(u) for u in team if u.pk not in workers]
    if outsiders:
        reasons.append(
            _("%(names)s 不是本机构的社工，不能列入服务团队。") % {"names": "、".join(outsiders)}
        )
    return reasons


# --- Tenders ----------------------------------------------------------------------------


def tender_list_for_user(*, user: User) -> QuerySet[Tender]:
    """Tenders the user may see: civil affairs and auditors all; agency staff every tender
    once published; evaluators the tenders assigned to them, once closed; others none."""
    scope = user_scope(user=user)
    qs = (
        Tender.objects.select_related("buyer")
        .annotate(lot_count=Count("lots", distinct=True))
        .order_by("-bid_closes_at", "-pk")
    )
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR):
        return qs
    visible = Q(pk__in=[])
    if scope.has(Role.AGENCY_STAFF):
        visible |= ~Q(status=Tender.Status.DRAFT)
    if scope.has(Role.EVALUATOR):
        assigned = EvaluatorAssignment.objects.filter(evaluator=user).values("tender_id")
        visible |= Q(pk__in=assigned, bid_closes_at__lte=timezone.now())
    return qs.filter(visible)


def tender_get_for_user(*, tender_id: int, user: User) -> Tender:
    """One tender within the user's scope; 404 outside it."""
    try:
        return tender_list_for_user(user=user).get(pk=tender_id)
    except Tender.DoesNotExist as exc:
        raise Http404 from exc


def tender_list_open_for_bids(*, user: User) -> QuerySet[Tender]:
    """Published tenders whose bid window has not closed, soonest close first."""
    return (
        tender_list_for_user(user=user)
        .filter(status=Tender.Status.PUBLISHED, bid_closes_at__gt=timezone.now())
        .order_by("bid_closes_at", "pk")
    )


def criterion_weight_total(*, criteria) -> int:
    """The sum of the weights (a tender may be published only at exactly 100)."""
    return sum(c.weight for c in criteria)


def question_list_for_tender(*, tender: Tender) -> QuerySet[TenderQuestion]:
    """Every question of a tender, with who asked (for civil affairs)."""
    return tender.questions.select_related("organisation", "asked_by", "answered_by")


def question_list_answered(*, tender: Tender) -> QuerySet[TenderQuestion]:
    """Answered questions, as bidders and the public see them: without who asked."""
    return (
        TenderQuestion.objects.filter(tender=tender)
        .exclude(answer="")
        .only("pk", "tender_id", "question", "answer", "asked_at", "answered_at")
    )


# --- Bids -------------------------------------------------------------------------------


def _bid_base() -> QuerySet[Bid]:
    return Bid.objects.select_related(
        "lot__tender", "lot__street", "lot__catalogue_item", "agency", "submitted_by"
    ).prefetch_related(Prefetch("team", queryset=User.objects.order_by("username")))


def bid_list_for_user(*, user: User) -> QuerySet[Bid]:
    """Bids the user may see. Agency staff: their organisations' bids (sealed content only
    through `bid_sealed_content`). Civil affairs and auditors: submitted bids of opened
    tenders. Evaluators: submitted bids of opened tenders assigned to them, once they have
    declared no conflict. Nobody else, and nobody other than the bidder before opening."""
    scope = user_scope(user=user)
    visible = Q(pk__in=[])
    if scope.has(Role.AGENCY_STAFF):
        visible |= Q(agency_id__in=_staff_agency_ids(user))
    opened = Q(
        status=Bid.Status.SUBMITTED,
        opened_at__isnull=False,
        lot__tender__status__in=OPENED_STATES,
    )
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR):
        visible |= opened
    elif scope.has(Role.EVALUATOR):
        declared = EvaluatorAssignment.objects.filter(
            evaluator=user, declaration=EvaluatorAssignment.Declaration.NO_CONFLICT
        ).values("tender_id")
        visible |= opened & Q(lot__tender_id__in=declared)
    return _bid_base().filter(visible).order_by("-submitted_at", "-pk")


def bid_get_for_user(*, bid_id: int, user: User) -> Bid:
    """One bid under the sealed rule; 404 for anyone else (the bid's existence included)."""
    try:
        return bid_list_for_user(user=user).get(pk=bid_id)
    except Bid.DoesNotExist as exc:
        raise Http404 from exc


def bid_list_for_tender(*, tender: Tender, user: User) -> list[Bid]:
    """The bids of one tender the user may see, by lot and price (empty before opening for
    everyone but the bidders themselves)."""
    return list(
        bid_list_for_user(user=user)
        .filter(lot__tender=tender)
        .order_by("lot__number", "price", "pk")
    )


def bids_of_agencies_by_lot(*, tender: Tender, user: User) -> dict[int, Bid]:
    """The live bid of the user's agencies on each lot of a tender, by lot id."""
    bids = _bid_base().filter(
        lot__tender=tender, agency_id__in=_staff_agency_ids(user), status=Bid.Status.SUBMITTED
    )
    return {b.lot_id: b for b in bids}


def bid_count_public(*, lot: Lot) -> int | None:
    """How many bids a lot received; None before the close, when even the count is sealed."""
    if not lot.tender.closed() or lot.tender.status == Tender.Status.DRAFT:
        return None
    return lot.bids.filter(status=Bid.Status.SUBMITTED).count()


def bid_sealed_payload(bid: Bid) -> dict:
    """The decrypted sealed content as stored (price as text, team as user ids). For the
    services that revise and open bids; pages use `bid_sealed_content`."""
    return json.loads(crypto.decrypt(bid.sealed, purpose=f"bid.sealed:{bid.pk}"))


def _owner(bid: Bid, user: User) -> bool:
    return user_is_agency_staff(user=user, organisation=bid.agency_id)


def bid_sealed_content(*, bid: Bid, user: User) -> BidContent:
    """The content of the user's own agency's bid, decrypted; 404 for anyone else."""
    if not _owner(bid, user) or not bid.sealed:
        raise Http404
    data = bid_sealed_payload(bid)
    members = {u.pk: u for u in User.objects.filter(pk__in=data["team"])}
    return BidContent(
        price=Decimal(data["price"]),
        team=[members[pk] for pk in data["team"] if pk in members],
        declarations=data["declarations"],
        plan_name=data["plan_name"],
        plan_sha256=data["plan_sha256"],
    )


def _may_read_opened(bid: Bid, user: User) -> bool:
    if bid.opened_at is None or bid.status != Bid.Status.SUBMITTED:
        return False
    return bid_list_for_user(user=user).filter(pk=bid.pk).exists()


def bid_plan_read(*, bid: Bid, user: User) -> tuple[str, bytes]:
    """The plan document's name and content: for the bidding agency at any time; for civil
    affairs, auditors and declared evaluators of the tender only after opening; 404 for
    anyone else."""
    owner = _owner(bid, user)
    if not owner and not _may_read_opened(bid, user):
        raise Http404
    if not bid.plan_file:
        raise Http404
    with bid.plan_file.open("rb") as handle:
        blob = handle.read()
    content = crypto.decrypt_bytes(blob, purpose=f"bid.plan:{bid.pk}")
    payload = bid_sealed_payload(bid) if bid.sealed else {}
    expected = payload.get("plan_sha256")
    if expected and hashlib.sha256(content).hexdigest() != expected:
        # The document on disk is not the one sealed with the bid.
        raise Http404
    return bid.plan_name or payload.get("plan_name") or "plan", content


def lot_get_for_user(*, lot_id: int, user: User) -> Lot:
    """One lot of a tender the user may see; 404 outside."""
    try:
        lot = Lot.objects.select_related("tender", "street", "catalogue_item").get(pk=lot_id)
    except Lot.DoesNotExist as exc:
        raise Http404 from exc
    lot.tender = tender_get_for_user(tender_id=lot.tender_id, user=user)
    return lot


def bid_list_of_my_agencies(*, user: User) -> QuerySet[Bid]:
    """The bids of the user's own agencies (我的投标), newest first."""
    return bid_list_for_user(user=user).filter(agency_id__in=_staff_agency_ids(user))
