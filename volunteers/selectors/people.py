"""Reads of people: volunteers, their organisations and records, and social workers. Who
may see or decide what is settled here once; lists load related rows up front so that pages
keep a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.http import Http404

from marketplace.exceptions import NotPermitted
from marketplace.models import Area, Membership, Organisation, Role, User
from marketplace.selectors.directory import user_scope
from volunteers.models import (
    STAR_THRESHOLDS,
    Affiliation,
    Certificate,
    ServiceRecord,
    SocialWorker,
    Volunteer,
)

__all__ = [
    "SOCIAL_WORKER_VIEWER_ROLES",
    "VOLUNTEER_VIEWER_ROLES",
    "StarProgress",
    "affiliation_get_for_manager",
    "affiliation_list_for_manager",
    "affiliation_list_for_volunteer",
    "affiliation_live_for",
    "affiliation_may_decide",
    "community_choices",
    "service_record_list_for_volunteer",
    "social_worker_candidates",
    "social_worker_get_for_staff",
    "social_worker_get_own",
    "social_worker_list_for_user",
    "social_worker_may_manage",
    "social_worker_organisations",
    "volunteer_get_for_user",
    "volunteer_get_own",
    "volunteer_list_for_user",
    "volunteer_may_reveal",
    "volunteer_star_progress",
]

# Roles that see volunteers other than themselves (each within its own scope).
VOLUNTEER_VIEWER_ROLES = frozenset(
    {
        Role.CIVIL_AFFAIRS_OFFICIAL,
        Role.AUDITOR,
        Role.STREET_OFFICIAL,
        Role.VOLUNTEER_MANAGER,
    }
)
# Roles that see the social-worker roster (each within its own scope).
SOCIAL_WORKER_VIEWER_ROLES = frozenset(
    {Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR, Role.STREET_OFFICIAL, Role.AGENCY_STAFF}
)


def _org_ids(user: User, role: str) -> set[int]:
    return {
        m.organisation_id
        for m in user_scope(user=user).memberships
        if m.role == role and m.organisation_id
    }


def _authenticated(user: User) -> bool:
    return bool(getattr(user, "is_authenticated", False))


# --- Volunteers ---------------------------------------------------------------------------


def _volunteer_visibility(user: User) -> Q | None:
    """The volunteers a user sees besides themselves, as a filter; None means all of
    them, an impossible filter none."""
    scope = user_scope(user=user)
    if scope.district_wide:
        return None
    parts = []
    if scope.has(Role.STREET_OFFICIAL) and scope.street_ids:
        parts.append(Q(street_id__in=scope.street_ids))
    managed = _org_ids(user, Role.VOLUNTEER_MANAGER)
    if managed:
        members = Affiliation.objects.filter(
            organisation_id__in=managed, status=Affiliation.Status.APPROVED
        ).values("volunteer_id")
        parts.append(Q(pk__in=members))
    return reduce(or_, parts) if parts else Q(pk__in=[])


def _joined_prefetch() -> Prefetch:
    return Prefetch(
        "affiliations",
        queryset=Affiliation.objects.filter(status=Affiliation.Status.APPROVED)
        .select_related("organisation")
        .order_by("organisation__name"),
        to_attr="joined",
    )


def volunteer_list_for_user(*, user: User) -> QuerySet[Volunteer]:
    """Volunteers the user may list: all for civil affairs and auditors, those living in
    their street for street officials, approved members of their organisations for volunteer
    managers; nobody for other roles. Each row carries `joined` (approved affiliations)."""
    if not _authenticated(user) or not user_scope(user=user).has(*VOLUNTEER_VIEWER_ROLES):
        return Volunteer.objects.none()
    qs = Volunteer.objects.select_related("home_community", "street").prefetch_related(
        "skills", _joined_prefetch()
    )
    visible = _volunteer_visibility(user)
    return qs if visible is None else qs.filter(visible)


def volunteer_get_for_user(*, pk: int, user: User) -> Volunteer:
    """One volunteer with everything the record page shows: the volunteer themselves, or a
    viewer in whose scope they are. Other roles get NotPermitted; a viewer looking outside
    their scope gets 404, so existence is not leaked."""
    qs = Volunteer.objects.select_related("home_community", "street", "user").prefetch_related(
        "skills",
        "availabilities",
        Prefetch("certificates", queryset=Certificate.objects.select_related("skill")),
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.select_related("organisation").order_by("-created_at"),
            to_attr="affiliation_rows",
        ),
        _joined_prefetch(),
    )
    if not _authenticated(user):
        raise NotPermitted()
    if not user_scope(user=user).has(*VOLUNTEER_VIEWER_ROLES):
        own = qs.filter(pk=pk, user=user).first()
        if own is None:
            raise NotPermitted()
        return own
    visible = _volunteer_visibility(user)
    if visible is not None:
        qs = qs.filter(Q(user=user) | visible)
    try:
        return qs.get(pk=pk)
    except Volunteer.DoesNotExist as exc:
        raise Http404 from exc


def volunteer_get_own(*, user: User) -> Volunteer | None:
    """The user's own volunteer registration, if any."""
    if not _authenticated(user):
        return None
    return (
        Volunteer.objects.select_related("home_community", "street")
        .prefetch_related("skills", "availabilities", "certificates")
        .filter(user=user)
        .first()
    )


def volunteer_may_reveal(*, volunteer: Volunteer, user: User) -> bool:
    """Whether the user's role needs a volunteer's full ID number and phone: civil affairs;
    officials of the volunteer's street; managers of an organisation the volunteer has
    joined (approved)."""
    if not _authenticated(user):
        return False
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    if scope.has(Role.STREET_OFFICIAL) and volunteer.street_id in scope.street_ids:
        return True
    managed = _org_ids(user, Role.VOLUNTEER_MANAGER)
    return bool(managed) and (
        Affiliation.objects.filter(
            volunteer=volunteer, organisation_id__in=managed, status=Affiliation.Status.APPROVED
        ).exists()
    )


@dataclass(frozen=True)
class StarProgress:
    """Where a volunteer stands on the star scale."""

    stars: int
    confirmed_hours: Decimal
    pending_hours: Decimal
    next_stars: int | None
    next_threshold: int | None
    remaining_hours: Decimal
    percent: int

    @property
    def stars_display(self) -> str:
        return "★" * self.stars

    @property
    def next_stars_display(self) -> str:
        return "★" * (self.next_stars or 0)


def volunteer_star_progress(*, volunteer: Volunteer) -> StarProgress:
    """Stars held, hours confirmed and pending, and the way to the next star: the next
    threshold, the hours still needed and the share of the current step already done."""
    confirmed = Decimal(volunteer.confirmed_hours or 0)
    pending = ServiceRecord.objects.filter(
        volunteer=volunteer, status=ServiceRecord.Status.PENDING
    ).aggregate(total=Sum("hours"))["total"] or Decimal("0")
    ascending = sorted(STAR_THRESHOLDS, key=lambda pair: pair[1])
    previous = 0
    for stars, threshold in ascending:
        if confirmed < threshold:
            step = threshold - previous
            done = max(Decimal("0"), confirmed - previous)
            return StarProgress(
                stars=volunteer.star_level,
                confirmed_hours=confirmed,
                pending_hours=pending,
                next_stars=stars,
                next_threshold=threshold,
                remaining_hours=Decimal(threshold) - confirmed,
                percent=min(100, int(done * 100 / step)),
            )
        previous = threshold
    return StarProgress(
        stars=volunteer.star_level,
        confirmed_hours=confirmed,
        pending_hours=pending,
        next_stars=None,
        next_threshold=None,
        remaining_hours=Decimal("0"),
        percent=100,
    )


def service_record_list_for_volunteer(*, volunteer: Volunteer) -> QuerySet[ServiceRecord]:
    """The volunteer's service records for the record page and its export, latest first,
    with each opportunity and its organisation loaded."""
    return (
        ServiceRecord.objects.filter(volunteer=volunteer)
        .select_related("opportunity__organisation", "opportunity__community")
        .order_by("-checked_in_at", "-pk")
    )


def community_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    """Communities grouped by street, for a grouped select."""
    groups: dict[str, list[tuple[int, str]]] = {}
    rows = (
        Area.objects.filter(level=Area.Level.COMMUNITY)
        .select_related("parent")
        .order_by("parent__code", "code")
    )
    for area in rows:
        groups.setdefault(area.parent.name if area.parent else "", []).append((area.pk, area.name))
    return list(groups.items())


# --- Affiliations -------------------------------------------------------------------------


def _decider_q(user: User) -> Q | None:
    scope = user_scope(user=user)
    parts = []
    managed = _org_ids(user, Role.VOLUNTEER_MANAGER)
    if managed:
        parts.append(Q(organisation_id__in=managed))
    if scope.has(Role.STREET_OFFICIAL) and scope.street_ids:
        parts.append(
            Q(
                organisation__kind=Organisation.Kind.VOLUNTEER_FEDERATION,
                organisation__street_id__in=scope.street_ids,
            )
        )
    return reduce(or_, parts) if parts else None


def affiliation_may_decide(*, affiliation: Affiliation, user: User) -> bool:
    """Whether the user decides requests to join this affiliation's organisation: its
    volunteer managers, and for a 联合会 the officials of its street."""
    if not _authenticated(user):
        return False
    organisation = affiliation.organisation
    if organisation.pk in _org_ids(user, Role.VOLUNTEER_MANAGER):
        return True
    scope = user_scope(user=user)
    return (
        organisation.kind == Organisation.Kind.VOLUNTEER_FEDERATION
        and scope.has(Role.STREET_OFFICIAL)
        and organisation.street_id in scope.street_ids
    )


def affiliation_list_for_manager(*, user: User) -> QuerySet[Affiliation]:
    """Requests to join the organisations the user decides for, newest first."""
    if not _authenticated(user):
        return Affiliation.objects.none()
    decider = _decider_q(user)
    if decider is None:
        return Affiliation.objects.none()
    return Affiliation.objects.filter(decider).select_related(
        "volunteer__home_community", "volunteer__street", "organisation", "decided_by"
    )


def affiliation_get_for_manager(*, pk: int, user: User) -> Affiliation:
    """One request the user decides for; 404 otherwise."""
    try:
        return affiliation_list_for_manager(user=user).get(pk=pk)
    except Affiliation.DoesNotExist as exc:
        raise Http404 from exc


def affiliation_list_for_volunteer(*, volunteer: Volunteer) -> QuerySet[Affiliation]:
    """The volunteer's requests and memberships, newest first."""
    return Affiliation.objects.filter(volunteer=volunteer).select_related("organisation")


def affiliation_live_for(*, volunteer: Volunteer, organisation: Organisation) -> Affiliation | None:
    """The volunteer's pending or approved affiliation with this organisation, if any."""
    return Affiliation.objects.filter(
        volunteer=volunteer,
        organisation=organisation,
        status__in=[Affiliation.Status.PENDING, Affiliation.Status.APPROVED],
    ).first()


# --- Social workers -----------------------------------------------------------------------


def social_worker_may_manage(*, organisation: Organisation, user: User) -> bool:
    """Whether the user is staff of this agency or 社工站 (registers and edits its social
    workers)."""
    return _authenticated(user) and organisation.pk in _org_ids(user, Role.AGENCY_STAFF)


def social_worker_list_for_user(*, user: User) -> QuerySet[SocialWorker]:
    """Social workers the user may list: all for civil affairs and auditors; the stations
    of their street for street officials; their own organisations for agency staff."""
    if not _authenticated(user):
        return SocialWorker.objects.none()
    scope = user_scope(user=user)
    qs = SocialWorker.objects.select_related("organisation__street", "user").prefetch_related(
        "specialties"
    )
    if scope.district_wide:
        return qs
    parts = []
    staff_of = _org_ids(user, Role.AGENCY_STAFF)
    if staff_of:
        parts.append(Q(organisation_id__in=staff_of))
    if scope.has(Role.STREET_OFFICIAL) and scope.street_ids:
        parts.append(
            Q(
                organisation__kind=Organisation.Kind.SOCIAL_WORK_STATION,
                organisation__street_id__in=scope.street_ids,
            )
        )
    return qs.filter(reduce(or_, parts)) if parts else qs.none()


def social_worker_get_for_staff(*, pk: int, user: User) -> SocialWorker:
    """A social worker of an organisation where the user is staff; 404 otherwise."""
    staff_of = _org_ids(user, Role.AGENCY_STAFF) if _authenticated(user) else set()
    try:
        return (
            SocialWorker.objects.select_related("organisation", "user")
            .prefetch_related("specialties")
            .get(pk=pk, organisation_id__in=staff_of)
        )
    except SocialWorker.DoesNotExist as exc:
        raise Http404 from exc


def social_worker_get_own(*, user: User) -> SocialWorker | None:
    """The user's own social-worker profile, if any."""
    if not _authenticated(user):
        return None
    return (
        SocialWorker.objects.select_related("organisation")
        .prefetch_related("specialties")
        .filter(user=user)
        .first()
    )


def social_worker_organisations(*, user: User, role: str) -> QuerySet[Organisation]:
    """Agencies and 社工站 where the user holds `role` (the social worker's own choices, or
    the organisations agency staff register for)."""
    ids = _org_ids(user, role) if _authenticated(user) else set()
    return Organisation.objects.filter(pk__in=ids, kind__in=SocialWorker.KINDS).order_by("name")


def social_worker_candidates(*, user: User) -> QuerySet[User]:
    """People holding the social-worker role in the user's agencies who have no profile
    yet (agency staff register them)."""
    staff_of = _org_ids(user, Role.AGENCY_STAFF) if _authenticated(user) else set()
    holders = Membership.objects.filter(
        organisation_id__in=staff_of, role=Role.SOCIAL_WORKER
    ).values("user_id")
    return (
        User.objects.filter(pk__in=holders, social_worker__isnull=True)
        .order_by("display_name", "username")
        .distinct()
    )
