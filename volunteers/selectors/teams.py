"""Reads of teams, each within the acting user's scope: members see their own teams; agency
staff the teams of their agency or 社工站; street officials the teams of organisations in
their street; civil affairs every team. Outside that scope a team does not exist (404)."""

from __future__ import annotations

from django.db.models import Case, Count, Max, Q, QuerySet, When
from django.http import Http404

from marketplace.models import Role, User
from marketplace.selectors.directory import user_scope
from volunteers.models import (
    Affiliation,
    SocialWorker,
    Team,
    TeamEvent,
    TeamMember,
    TeamTask,
    Volunteer,
)

__all__ = [
    "TEAM_ROLES",
    "team_agency_organisation_ids",
    "team_checkin_list",
    "team_exists",
    "team_get_for_user",
    "team_is_member",
    "team_last_event_id",
    "team_leader_choices_for_user",
    "team_list_for_user",
    "team_may_manage",
    "team_member_list",
    "team_message_list",
    "team_task_get_for_user",
    "team_task_list",
    "team_volunteer_candidates",
]

# Roles that may open the team pages at all (members are volunteers and social workers;
# the others oversee teams).
TEAM_ROLES = {
    Role.VOLUNTEER,
    Role.SOCIAL_WORKER,
    Role.AGENCY_STAFF,
    Role.STREET_OFFICIAL,
    Role.CIVIL_AFFAIRS_OFFICIAL,
}


def team_agency_organisation_ids(*, user: User) -> set[int]:
    """Agencies and 社工站 where the user is staff (not merely a social worker)."""
    scope = user_scope(user=user)
    return {
        m.organisation_id
        for m in scope.memberships
        if m.role == Role.AGENCY_STAFF and m.organisation_id
    }


def _team_scope_q(user: User) -> Q | None:
    """Teams the user may see; None means all of them."""
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return None
    visible = Q(pk__in=TeamMember.objects.filter(user=user, active=True).values("team_id"))
    agencies = team_agency_organisation_ids(user=user)
    if agencies:
        visible |= Q(organisation_id__in=agencies)
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(organisation__street_id__in=scope.street_ids)
    return visible


def team_list_for_user(*, user: User) -> QuerySet[Team]:
    """Teams in the user's scope, newest first, with leader, organisation, need and the
    number of active members loaded for list pages."""
    if not getattr(user, "is_authenticated", False):
        return Team.objects.none()
    qs = (
        Team.objects.select_related("organisation", "leader", "need__service_type")
        .annotate(member_count=Count("members", filter=Q(members__active=True)))
        .order_by("-created_at", "-pk")
    )
    visible = _team_scope_q(user)
    return qs if visible is None else qs.filter(visible)


def team_get_for_user(*, team_id: int, user: User) -> Team:
    """One team in the user's scope; 404 outside it, so existence is not leaked."""
    try:
        return team_list_for_user(user=user).get(pk=team_id)
    except Team.DoesNotExist as exc:
        raise Http404 from exc


def team_exists(*, team_id: int) -> bool:
    """Whether a team with this id exists (the room tells "no such team" from "not yours")."""
    return Team.objects.filter(pk=team_id).exists()


def team_is_member(*, team: Team, user: User) -> bool:
    """Whether the user is an active member of the team."""
    if not getattr(user, "is_authenticated", False):
        return False
    return TeamMember.objects.filter(team=team, user=user, active=True).exists()


def team_may_manage(*, team: Team, user: User) -> bool:
    """Whether the user manages the team: its leader, or staff of its organisation."""
    if not getattr(user, "is_authenticated", False):
        return False
    if team.leader.user_id == user.pk:
        return True
    return team.organisation_id in team_agency_organisation_ids(user=user)


def team_member_list(*, team: Team) -> QuerySet[TeamMember]:
    """The team's active members, leader first."""
    return (
        TeamMember.objects.filter(team=team, active=True)
        .select_related("user")
        .order_by(
            Case(
                When(role=TeamMember.Role.LEADER, then=0),
                When(role=TeamMember.Role.SOCIAL_WORKER, then=1),
                default=2,
            ),
            "pk",
        )
    )


def team_task_list(*, team: Team) -> QuerySet[TeamTask]:
    """The team's task board, oldest card first."""
    return TeamTask.objects.filter(team=team).select_related("claimed_by").order_by("pk")


def team_task_get_for_user(*, task_id: int, user: User) -> TeamTask:
    """One task of a team in the user's scope; 404 outside it."""
    teams = team_list_for_user(user=user).values("pk")
    try:
        return TeamTask.objects.select_related("team", "team__leader", "claimed_by").get(
            pk=task_id, team__in=teams
        )
    except TeamTask.DoesNotExist as exc:
        raise Http404 from exc


def team_message_list(*, team: Team, limit: int = 50) -> list:
    """The latest messages of the room, oldest first."""
    rows = list(team.messages.select_related("author").order_by("-pk")[:limit])
    rows.reverse()
    return rows


def team_checkin_list(*, team: Team, limit: int = 20) -> list[TeamEvent]:
    """The latest check-in / check-out events of the room, newest first."""
    return list(team.events.filter(kind=TeamEvent.Kind.CHECKIN).order_by("-pk")[:limit])


def team_last_event_id(*, team: Team) -> int:
    """The id of the room's latest event (0 when none): a page rendered now has seen it."""
    return team.events.aggregate(last=Max("pk"))["last"] or 0


def team_leader_choices_for_user(*, user: User) -> QuerySet[SocialWorker]:
    """Active social workers the user may name as a team's leader: themselves; the social
    workers of their agency or 社工站 (staff); those of organisations in their street
    (street officials); all (civil affairs)."""
    scope = user_scope(user=user)
    qs = SocialWorker.objects.filter(active=True).select_related("organisation")
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return qs.order_by("organisation_id", "pk")
    visible = Q(user=user)
    agencies = team_agency_organisation_ids(user=user)
    if agencies:
        visible |= Q(organisation_id__in=agencies)
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(organisation__street_id__in=scope.street_ids)
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(visible).order_by("organisation_id", "pk")


def team_volunteer_candidates(
    *, street_ids: set[int] | None, exclude_team: Team | None = None
) -> QuerySet[Volunteer]:
    """Volunteers who may be put in a team of organisations in these streets: those living
    in the street and those who joined a volunteer organisation or 联合会 there. `None`
    means the whole district (a district-level agency)."""
    qs = Volunteer.objects.select_related("user", "home_community").order_by("pk")
    if street_ids is not None:
        qs = qs.filter(
            Q(street_id__in=street_ids)
            | Q(
                pk__in=Volunteer.objects.filter(
                    affiliations__status=Affiliation.Status.APPROVED,
                    affiliations__organisation__street_id__in=street_ids,
                ).values("pk")
            )
        )
    if exclude_team is not None:
        qs = qs.exclude(
            user_id__in=TeamMember.objects.filter(team=exclude_team, active=True).values("user_id")
        )
    return qs
