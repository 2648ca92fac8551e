"""Reads of assistance cases, needs, referrals and warnings, each within the acting user's
scope: community workers see their community, street officials their street, civil affairs
and auditors the district, department staff what was referred to them, applicants their own
applications. Providers (charities, agencies, social workers, volunteers) see no case at all,
only open needs through `need_public_list`, which carries no identity."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from marketplace.models import (
    Area,
    Case,
    CaseMember,
    Need,
    Referral,
    Role,
    ServiceType,
    User,
    Warning,
)
from marketplace.selectors.directory import user_scope

__all__ = [
    "CASE_STAFF_ROLES",
    "REVEAL_ROLES",
    "case_get_for_user",
    "case_list_for_user",
    "case_may_reveal",
    "case_member_list",
    "community_list_for_user",
    "need_get_for_user",
    "need_list_for_user",
    "need_public_get",
    "need_public_list",
    "referral_get_for_user",
    "referral_list_for_user",
    "service_type_list",
    "warning_get_for_user",
    "warning_list_for_user",
]

# Roles that work on cases (and so may open case pages at all).
CASE_STAFF_ROLES = {
    Role.CIVIL_AFFAIRS_OFFICIAL,
    Role.STREET_OFFICIAL,
    Role.COMMUNITY_WORKER,
    Role.AUDITOR,
    Role.DEPARTMENT_STAFF,
}
# Roles that may see an ID number or phone in full (each view audit-logged).
REVEAL_ROLES = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER}


def _case_scope_q(user: User, *, prefix: str = "") -> Q | None:
    """The Q selecting cases the user may see (`prefix` for lookups through a relation);
    None means every case. An empty Q(pk__in=[]) means none."""
    scope = user_scope(user=user)
    if scope.district_wide:
        return None
    visible = Q(**{f"{prefix}pk__in": []})
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(**{f"{prefix}street_id__in": scope.street_ids})
    if scope.has(Role.COMMUNITY_WORKER):
        visible |= Q(**{f"{prefix}community_id__in": scope.community_ids})
    if scope.has(Role.DEPARTMENT_STAFF):
        visible |= Q(**{f"{prefix}referrals__department_id__in": scope.department_ids})
        visible |= Q(**{f"{prefix}referred_by_id__in": scope.department_ids})
    if getattr(user, "is_authenticated", False):
        visible |= Q(**{f"{prefix}applicant": user})
    return visible


def case_list_for_user(*, user: User) -> QuerySet[Case]:
    """Cases the user may see, newest first, with their places loaded."""
    qs = Case.objects.select_related("community", "street")
    visible = _case_scope_q(user)
    if visible is None:
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    # A department may see a case through several referrals: keep each case once.
    return qs.filter(pk__in=Case.objects.filter(visible).values("pk"))


def case_get_for_user(*, case_id: int, user: User) -> Case:
    """One case in the user's scope; 404 outside it, so existence is not leaked."""
    try:
        return case_list_for_user(user=user).get(pk=case_id)
    except Case.DoesNotExist as exc:
        raise Http404 from exc


def case_may_reveal(*, case: Case, user: User) -> bool:
    """Whether the user may see this case's ID numbers and phone in full: its own community's
    workers, its street's officials and civil affairs. Auditors read masked values only."""
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    if scope.has(Role.STREET_OFFICIAL) and case.street_id in scope.street_ids:
        return True
    return scope.has(Role.COMMUNITY_WORKER) and case.community_id in scope.community_ids


def case_member_list(*, case: Case) -> QuerySet[CaseMember]:
    return case.members.order_by("pk")


def need_list_for_user(*, user: User) -> QuerySet[Need]:
    """Needs of the cases the user may see, with what list pages show loaded up front."""
    qs = Need.objects.select_related("case", "service_type", "community", "street")
    visible = _case_scope_q(user, prefix="case__")
    if visible is None:
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(case__in=Case.objects.filter(_case_scope_q(user)).values("pk"))


def need_get_for_user(*, need_id: int, user: User) -> Need:
    try:
        return need_list_for_user(user=user).get(pk=need_id)
    except Need.DoesNotExist as exc:
        raise Http404 from exc


def need_public_list() -> QuerySet[Need]:
    """Open needs as providers see them: no case, no names, only the de-identified fields.
    Callers must render only `Need.PUBLIC_FIELDS`."""
    return (
        Need.objects.filter(status__in=Need.PUBLIC)
        .select_related("service_type", "community", "street")
        .only(*Need.PUBLIC_FIELDS)
    )


def need_public_get(*, need_id: int) -> Need:
    try:
        return need_public_list().get(pk=need_id)
    except Need.DoesNotExist as exc:
        raise Http404 from exc


def referral_list_for_user(*, user: User) -> QuerySet[Referral]:
    """Referrals the user may see: those of cases in scope, and those sent to the user's
    department."""
    scope = user_scope(user=user)
    qs = Referral.objects.select_related("case", "case__community", "department", "sent_by")
    if scope.district_wide:
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    visible = Q(department_id__in=scope.department_ids)
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(case__street_id__in=scope.street_ids)
    if scope.has(Role.COMMUNITY_WORKER):
        visible |= Q(case__community_id__in=scope.community_ids)
    return qs.filter(visible)


def referral_get_for_user(*, referral_id: int, user: User) -> Referral:
    try:
        return referral_list_for_user(user=user).get(pk=referral_id)
    except Referral.DoesNotExist as exc:
        raise Http404 from exc


def warning_list_for_user(*, user: User) -> QuerySet[Warning]:
    """Monitoring warnings of households in the user's community / street / district."""
    scope = user_scope(user=user)
    qs = Warning.objects.select_related("case", "case__community", "member")
    if scope.district_wide:
        return qs
    visible = Q(pk__in=[])
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(case__street_id__in=scope.street_ids)
    if scope.has(Role.COMMUNITY_WORKER):
        visible |= Q(case__community_id__in=scope.community_ids)
    return qs.filter(visible)


def warning_get_for_user(*, warning_id: int, user: User) -> Warning:
    try:
        return warning_list_for_user(user=user).get(pk=warning_id)
    except Warning.DoesNotExist as exc:
        raise Http404 from exc


def community_list_for_user(*, user: User) -> QuerySet[Area]:
    """Communities where the user may register a case: their own community for a community
    worker, their street's for a street official, all for civil affairs; every community for
    an applicant or a department (they say where the household lives)."""
    scope = user_scope(user=user)
    qs = Area.objects.filter(level=Area.Level.COMMUNITY).select_related("parent")
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.APPLICANT, Role.DEPARTMENT_STAFF):
        return qs.order_by("code")
    visible = Q(pk__in=scope.community_ids) | Q(parent_id__in=scope.street_ids)
    if not scope.has(Role.STREET_OFFICIAL):
        visible = Q(pk__in=scope.community_ids)
    return qs.filter(visible).order_by("code")


def service_type_list() -> QuerySet[ServiceType]:
    return ServiceType.objects.order_by("position", "code")
