"""Reads of opportunities, sign-ups and service records. Who organises an opportunity is
decided here once: a user holding a staff role in its organisation, or the leader of its
team. Lists load related rows up front so that pages keep a constant number of queries."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from marketplace.models import Organisation, Role, User
from marketplace.selectors.directory import user_scope
from volunteers.models import Opportunity, ServiceRecord, Signup, Team, Volunteer

__all__ = [
    "ORGANISER_ROLES",
    "opportunity_get",
    "opportunity_get_for_organiser",
    "opportunity_is_organiser",
    "opportunity_list_for_organiser",
    "opportunity_public_list",
    "organiser_organisations",
    "organiser_teams",
    "service_record_get_for_organiser",
    "service_record_list_for_organiser",
    "signup_get_for_volunteer",
    "signup_live_for",
    "signup_list_for_volunteer",
    "signup_positions",
    "signup_roster",
    "signup_waitlist_position",
    "user_may_organise",
    "volunteer_acting",
]

# Staff roles that organise opportunities of the organisation they are held in.
ORGANISER_ROLES = frozenset(
    {
        Role.VOLUNTEER_MANAGER,
        Role.CHARITY_STAFF,
        Role.AGENCY_STAFF,
        Role.SOCIAL_WORKER,
        Role.STREET_OFFICIAL,
        Role.COMMUNITY_WORKER,
    }
)

_LIST_RELATED = ("organisation", "community", "street", "service_type", "team")


def _organiser_organisation_ids(user: User) -> set[int]:
    scope = user_scope(user=user)
    return {
        m.organisation_id
        for m in scope.memberships
        if m.organisation_id and m.role in ORGANISER_ROLES
    }


def user_may_organise(*, user: User) -> bool:
    """Whether the user holds any organiser role or leads an active team (the pages for
    organisers are refused with 403 to everyone else)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if _organiser_organisation_ids(user):
        return True
    return organiser_teams(user=user).exists()


def organiser_organisations(*, user: User) -> QuerySet[Organisation]:
    """Organisations for which the user may post opportunities: those where they hold an
    organiser role, and those of the active teams they lead."""
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    led = Team.objects.filter(leader__user=user, status=Team.Status.ACTIVE)
    return Organisation.objects.filter(
        Q(pk__in=_organiser_organisation_ids(user)) | Q(pk__in=led.values("organisation_id"))
    ).order_by("name")


def organiser_teams(*, user: User) -> QuerySet[Team]:
    """Active teams the user leads; a leader posts opportunities for the team."""
    if not getattr(user, "is_authenticated", False):
        return Team.objects.none()
    return Team.objects.filter(leader__user=user, status=Team.Status.ACTIVE).select_related(
        "organisation"
    )


def opportunity_is_organiser(*, opportunity: Opportunity, user: User) -> bool:
    """Whether the user organises this opportunity (posts, edits, cancels, shows the check-in
    code, confirms and revokes hours)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if opportunity.organisation_id in _organiser_organisation_ids(user):
        return True
    if opportunity.team_id is None:
        return False
    return Team.objects.filter(pk=opportunity.team_id, leader__user=user).exists()


def _organiser_q(user: User, prefix: str = "") -> Q:
    return Q(**{f"{prefix}organisation_id__in": _organiser_organisation_ids(user)}) | Q(
        **{f"{prefix}team__leader__user": user}
    )


def opportunity_public_list(*, now=None) -> QuerySet[Opportunity]:
    """Open opportunities that have not started, soonest first."""
    now = now or timezone.now()
    return (
        Opportunity.objects.filter(status=Opportunity.Status.OPEN, starts_at__gt=now)
        .select_related(*_LIST_RELATED)
        .prefetch_related("skills")
        .order_by("starts_at", "pk")
    )


def opportunity_get(*, opportunity_id: int) -> Opportunity:
    """One opportunity, whatever its status (published information); 404 if there is none."""
    try:
        return (
            Opportunity.objects.select_related(*_LIST_RELATED, "team__leader")
            .prefetch_related("skills")
            .get(pk=opportunity_id)
        )
    except Opportunity.DoesNotExist as exc:
        raise Http404 from exc


def opportunity_list_for_organiser(*, user: User) -> QuerySet[Opportunity]:
    """Opportunities the user organises, latest first."""
    if not getattr(user, "is_authenticated", False):
        return Opportunity.objects.none()
    return (
        Opportunity.objects.filter(_organiser_q(user))
        .select_related(*_LIST_RELATED)
        .order_by("-starts_at", "-pk")
    )


def opportunity_get_for_organiser(*, opportunity_id: int, user: User) -> Opportunity:
    """One opportunity the user organises; 404 for anyone else's, so its organisation's
    business is not leaked (the caller refuses users with no organiser role at all)."""
    opportunity = opportunity_get(opportunity_id=opportunity_id)
    if not opportunity_is_organiser(opportunity=opportunity, user=user):
        raise Http404
    return opportunity


def volunteer_acting(*, user: User) -> Volunteer | None:
    """The user's volunteer registration when they hold the volunteer role, else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not user_scope(user=user).has(Role.VOLUNTEER):
        return None
    return Volunteer.objects.filter(user=user).first()


def signup_live_for(*, volunteer: Volunteer, opportunity: Opportunity) -> Signup | None:
    """The volunteer's confirmed or waitlisted sign-up for this opportunity, if any."""
    return Signup.objects.filter(
        volunteer=volunteer, opportunity=opportunity, status__in=Signup.LIVE
    ).first()


def signup_get_for_volunteer(*, signup_id: int, volunteer: Volunteer) -> Signup:
    """One of the volunteer's own sign-ups; 404 for anyone else's."""
    try:
        return Signup.objects.select_related("opportunity", "volunteer").get(
            pk=signup_id, volunteer=volunteer
        )
    except Signup.DoesNotExist as exc:
        raise Http404 from exc


def signup_list_for_volunteer(*, volunteer: Volunteer) -> QuerySet[Signup]:
    """The volunteer's sign-ups, soonest first, with their opportunities."""
    return (
        Signup.objects.filter(volunteer=volunteer)
        .select_related("opportunity__community", "opportunity__street", "opportunity__team")
        .order_by("-starts_at", "-pk")
    )


def signup_waitlist_position(*, signup: Signup) -> int | None:
    """1 for the next to move up, 2 after that …; None when not on the waiting list."""
    if signup.status != Signup.Status.WAITLISTED:
        return None
    ahead = Signup.objects.filter(
        opportunity_id=signup.opportunity_id, status=Signup.Status.WAITLISTED
    ).filter(
        Q(waitlisted_at__lt=signup.waitlisted_at)
        | Q(waitlisted_at=signup.waitlisted_at, pk__lt=signup.pk)
    )
    return ahead.count() + 1


def signup_positions(signups: list[Signup]) -> list[Signup]:
    """Give each sign-up its waiting-list `position` (None unless waitlisted), with one
    query for the whole page."""
    waiting = [s for s in signups if s.status == Signup.Status.WAITLISTED]
    for signup in signups:
        signup.position = None
    if not waiting:
        return signups
    queue: dict[int, list[int]] = {}
    for opportunity_id, pk in (
        Signup.objects.filter(
            opportunity_id__in={s.opportunity_id for s in waiting},
            status=Signup.Status.WAITLISTED,
        )
        .order_by("waitlisted_at", "pk")
        .values_list("opportunity_id", "pk")
    ):
        queue.setdefault(opportunity_id, []).append(pk)
    for signup in waiting:
        signup.position = queue.get(signup.opportunity_id, []).index(signup.pk) + 1
    return signups


def signup_roster(*, opportunity: Opportunity) -> list[Signup]:
    """Confirmed and waitlisted sign-ups of an opportunity with their volunteers (for
    organisers: masked phones only), each carrying its `record` and waiting-list `position`."""
    signups = list(
        Signup.objects.filter(opportunity=opportunity, status__in=Signup.LIVE)
        .select_related("volunteer")
        .order_by("status", "waitlisted_at", "created_at", "pk")
    )
    records = {
        r.volunteer_id: r
        for r in ServiceRecord.objects.filter(
            opportunity=opportunity, volunteer_id__in=[s.volunteer_id for s in signups]
        )
    }
    position = 0
    for signup in signups:
        signup.record = records.get(signup.volunteer_id)
        if signup.status == Signup.Status.WAITLISTED:
            position += 1
            signup.position = position
        else:
            signup.position = None
    return signups


def service_record_list_for_organiser(*, user: User) -> QuerySet[ServiceRecord]:
    """Service records of opportunities the user organises."""
    if not getattr(user, "is_authenticated", False):
        return ServiceRecord.objects.none()
    return (
        ServiceRecord.objects.filter(_organiser_q(user, "opportunity__"))
        .select_related("volunteer", "opportunity__organisation", "opportunity__community")
        .order_by("checked_in_at", "pk")
    )


def service_record_get_for_organiser(*, record_id: int, user: User) -> ServiceRecord:
    """One record of an opportunity the user organises; 404 otherwise."""
    try:
        return service_record_list_for_organiser(user=user).get(pk=record_id)
    except ServiceRecord.DoesNotExist as exc:
        raise Http404 from exc
