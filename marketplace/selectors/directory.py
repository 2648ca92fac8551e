"""Reads of the shared domain. Each applies the acting user's role and organisation scope
and loads related rows up front so that pages keep a constant number of queries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.db.models import Q, QuerySet
from django.http import Http404

from marketplace.models import Area, Membership, Organisation, Role, User

# Roles that see every organisation, verified or not.
DISTRICT_WIDE_ROLES = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR}


@dataclass(frozen=True)
class UserScope:
    """What one user is: roles held, organisations and streets they act for."""

    roles: frozenset[str] = frozenset()
    organisation_ids: frozenset[int] = frozenset()
    street_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    memberships: tuple[Membership, ...] = field(default=())

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def district_wide(self) -> bool:
        return self.has(*DISTRICT_WIDE_ROLES)


def user_scope(*, user: User) -> UserScope:
    """The user's roles and organisations, read once per request and kept on the user."""
    if not getattr(user, "is_authenticated", False):
        return UserScope()
    cached = getattr(user, "_scope_cache", None)
    if cached is not None:
        return cached
    memberships = tuple(
        Membership.objects.filter(user=user)
        .select_related("organisation__area", "organisation__street")
        .order_by("pk")
    )
    street_ids = {
        m.organisation.street_id
        for m in memberships
        if m.organisation_id
        and m.organisation.street_id
        and m.role in {Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER}
    }
    scope = UserScope(
        roles=frozenset(m.role for m in memberships),
        organisation_ids=frozenset(m.organisation_id for m in memberships if m.organisation_id),
        street_ids=frozenset(street_ids),
        community_ids=frozenset(
            m.organisation.area_id for m in memberships if m.role == Role.COMMUNITY_WORKER
        ),
        department_ids=frozenset(
            m.organisation_id for m in memberships if m.role == Role.DEPARTMENT_STAFF
        ),
        memberships=memberships,
    )
    user._scope_cache = scope
    return scope


def organisation_list_for_user(*, user: User) -> QuerySet[Organisation]:
    """Organisations the user may see: the public sees verified ones; civil affairs and
    auditors see all; street officials also see unverified ones of their street; members
    also see their own."""
    qs = Organisation.objects.select_related("area", "street")
    scope = user_scope(user=user)
    if scope.district_wide:
        return qs
    visible = Q(verified=True)
    if scope.has(Role.STREET_OFFICIAL):
        visible |= Q(street_id__in=scope.street_ids)
    if scope.organisation_ids:
        visible |= Q(pk__in=scope.organisation_ids)
    return qs.filter(visible)


def organisation_get_for_user(*, organisation_id: int, user: User) -> Organisation:
    """One organisation within the user's scope; 404 outside it, so existence is not leaked."""
    try:
        return organisation_list_for_user(user=user).get(pk=organisation_id)
    except Organisation.DoesNotExist as exc:
        raise Http404 from exc


def organisation_member_user_ids(*, organisation: Organisation) -> list[int]:
    """Ids of everyone holding a role in the organisation."""
    return list(
        Membership.objects.filter(organisation=organisation)
        .values_list("user_id", flat=True)
        .distinct()
    )


def street_list() -> QuerySet[Area]:
    """Streets, towns and development zones, in code order."""
    return Area.objects.filter(level=Area.Level.STREET).order_by("code")


@cache
def street_neighbour_codes() -> dict[str, frozenset[str]]:
    """Area code of each street → codes of the streets that border it, from the district's
    data file (`street_neighbours` pairs). Matching ranks a provider from a bordering street
    before one from across the district."""
    data = json.loads(
        (Path(__file__).resolve().parents[1] / "data" / "yaohai.json").read_text("utf-8")
    )
    neighbours: dict[str, set[str]] = {}
    for a, b in data.get("street_neighbours", []):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    return {code: frozenset(codes) for code, codes in neighbours.items()}


def area_list_for_user_creation(*, user: User) -> QuerySet[Area]:
    """Areas where the user may register an organisation: all for civil affairs, the own
    street and its communities for a street official, none otherwise."""
    scope = user_scope(user=user)
    qs = Area.objects.select_related("parent").order_by("code")
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return qs
    if scope.has(Role.STREET_OFFICIAL):
        return qs.filter(Q(pk__in=scope.street_ids) | Q(parent_id__in=scope.street_ids))
    return qs.none()
