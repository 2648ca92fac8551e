"""Reads of matching, scoped to the acting user: runs and proposals for the approvers
(district civil affairs everywhere, a street official for their street), assignments for the
providers a proposal names. Each loads related rows up front so that pages keep a constant
number of queries however many proposals and items there are."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from marketplace.models import Area, Role, User
from marketplace.selectors.directory import user_scope
from matching.models import Decision, MatchRun, Proposal, ProposalItem

# Roles that run matching and decide proposals; the selectors narrow what each sees.
APPROVER_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL)
# Roles a proposal can name as provider (a volunteer, a social worker, a charity's staff).
PROVIDER_ROLES = (Role.VOLUNTEER, Role.SOCIAL_WORKER, Role.CHARITY_STAFF)
# Answers a provider sees in their list: what waits for them and what they said.
ASSIGNMENT_RESPONSES = (
    ProposalItem.Response.WAITING,
    ProposalItem.Response.ACCEPTED,
    ProposalItem.Response.DECLINED,
)


# --- Runs --------------------------------------------------------------------------------


def run_area_choices_for_user(*, user: User) -> QuerySet[Area]:
    """Areas the user may start a run over: the district and every street for civil
    affairs, their own street for a street official, nothing for anyone else. The service
    checks the same rule (`match_run_may_start`); this only fills the form's choices."""
    scope = user_scope(user=user)
    # "district" sorts before "street": the district first, then the streets by code.
    qs = Area.objects.filter(level__in=[Area.Level.DISTRICT, Area.Level.STREET]).order_by(
        "level", "code"
    )
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return qs
    if scope.has(Role.STREET_OFFICIAL):
        return qs.filter(pk__in=scope.street_ids, level=Area.Level.STREET)
    return qs.none()


def run_list_for_user(*, user: User) -> QuerySet[MatchRun]:
    """Runs the user may follow: every run for civil affairs; runs over their street and the
    district runs (which cover it) for a street official; none for anyone else."""
    scope = user_scope(user=user)
    qs = MatchRun.objects.select_related("area", "requested_by", "need", "need__service_type")
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return qs
    if scope.has(Role.STREET_OFFICIAL):
        return qs.filter(Q(area_id__in=scope.street_ids) | Q(area__level=Area.Level.DISTRICT))
    return qs.none()


def run_get_for_user(*, run_id: int, user: User) -> MatchRun:
    """One run within the user's scope; 404 outside it, so its existence is not leaked."""
    try:
        return run_list_for_user(user=user).get(pk=run_id)
    except MatchRun.DoesNotExist as exc:
        raise Http404 from exc


# --- Proposals ---------------------------------------------------------------------------


def _proposal_scope(user: User) -> QuerySet[Proposal]:
    scope = user_scope(user=user)
    qs = Proposal.objects.select_related(
        "need",
        "need__service_type",
        "need__community",
        "street",
        "run",
        "rule",
        "decided_by",
        "team",
    )
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return qs
    if scope.has(Role.STREET_OFFICIAL):
        # District-level proposals of the street are shown too (read-only): the street
        # follows what the district decides about its residents.
        return qs.filter(street_id__in=scope.street_ids)
    return qs.none()


def proposal_list_for_user(*, user: User, filters: dict | None = None) -> QuerySet[Proposal]:
    """Proposals the user may read, narrowed by `filters` (cleaned values of the list's
    filter form: status, level, street, run; empty values are ignored). A street filter
    outside a street official's own street simply finds nothing."""
    qs = _proposal_scope(user)
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("level"):
        qs = qs.filter(level=filters["level"])
    if filters.get("street"):
        qs = qs.filter(street=filters["street"])
    if filters.get("run"):
        qs = qs.filter(run_id=filters["run"])
    return qs


def proposal_items_prefetch() -> Prefetch:
    """A proposal's items with every provider row the pages and the export name."""
    return Prefetch(
        "items",
        queryset=ProposalItem.objects.select_related(
            "volunteer",
            "social_worker",
            "social_worker__organisation",
            "project",
            "contract",
            "provider_street",
        ).order_by("role", "cost", "pk"),
    )


def proposal_export_list_for_user(*, user: User, filters: dict | None = None) -> QuerySet[Proposal]:
    """The list's rows for the Excel export, with their providers loaded in one more query."""
    return proposal_list_for_user(user=user, filters=filters).prefetch_related(
        proposal_items_prefetch()
    )


def proposal_get_for_user(*, proposal_id: int, user: User) -> Proposal:
    """One proposal within the user's scope, with its items and decisions; 404 outside it."""
    qs = _proposal_scope(user).prefetch_related(
        proposal_items_prefetch(),
        Prefetch("decisions", queryset=Decision.objects.select_related("by").order_by("at", "pk")),
    )
    try:
        return qs.get(pk=proposal_id)
    except Proposal.DoesNotExist as exc:
        raise Http404 from exc


# --- Assignments (the providers' side) ---------------------------------------------------


def _charity_organisation_ids(user: User) -> list[int]:
    scope = user_scope(user=user)
    return [
        m.organisation_id
        for m in scope.memberships
        if m.role == Role.CHARITY_STAFF and m.organisation_id
    ]


def assignment_may_view(*, user: User) -> bool:
    """Whether the user can be named by a proposal at all: a provider role, or a volunteer
    or social worker profile of their own."""
    if user_scope(user=user).has(*PROVIDER_ROLES):
        return True
    return bool(user.is_authenticated) and (
        hasattr(user, "volunteer") or hasattr(user, "social_worker")
    )


def assignment_list_for_user(*, user: User) -> QuerySet[ProposalItem]:
    """Items of approved proposals waiting for, or answered by, the user: as the matched
    volunteer or social worker, or as staff of the charity whose project is matched."""
    if not user.is_authenticated:
        return ProposalItem.objects.none()
    mine = Q(volunteer__user=user) | Q(social_worker__user=user)
    charities = _charity_organisation_ids(user)
    if charities:
        mine |= Q(project__organisation_id__in=charities)
    return (
        ProposalItem.objects.filter(mine, response__in=ASSIGNMENT_RESPONSES)
        .select_related(
            "proposal",
            "proposal__need",
            "proposal__need__service_type",
            "proposal__need__community",
            "proposal__street",
            "proposal__team",
            "volunteer",
            "social_worker",
            "project",
        )
        .order_by("-proposal__decided_at", "-pk")
    )


def assignment_get_for_user(*, item_id: int, user: User) -> ProposalItem:
    """One of the user's assignments; 404 for anyone else's."""
    try:
        return assignment_list_for_user(user=user).get(pk=item_id)
    except ProposalItem.DoesNotExist as exc:
        raise Http404 from exc
