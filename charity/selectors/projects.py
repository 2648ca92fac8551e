"""Reads of service projects. The public sees live pages whose view is not restricted."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.http import Http404
from django.utils import timezone

from charity.models import ProjectPage

__all__ = ["project_get_public", "project_list_public", "project_supply_list"]


def project_list_public(
    *,
    organisation: int | None = None,
    kind: str | None = None,
    service_type: int | None = None,
    street: int | None = None,
    open_only: bool = False,
) -> QuerySet[ProjectPage]:
    """Published, public projects, newest first, with organisation, service types and
    streets loaded up front. The optional arguments narrow the list the way the page's
    filters do (kind is "funds", "goods" or "services")."""
    queryset = (
        # `public()` also hides pages under a restricted ancestor (the index or a section).
        ProjectPage.objects.live()
        .public()
        .select_related("organisation")
        .prefetch_related("service_types", "streets")
        .order_by("-first_published_at", "-pk")
    )
    if organisation is not None:
        queryset = queryset.filter(organisation_id=organisation)
    if kind:
        from charity.filters import KIND_FIELDS

        queryset = queryset.filter(**{KIND_FIELDS[kind]: True})
    if service_type is not None:
        queryset = queryset.filter(
            pk__in=ProjectPage.service_types.through.objects.filter(
                servicetype_id=service_type
            ).values("projectpage_id")
        )
    if street is not None:
        queryset = queryset.filter(
            pk__in=ProjectPage.streets.through.objects.filter(area_id=street).values(
                "projectpage_id"
            )
        )
    if open_only:
        queryset = queryset.filter(capacity__gt=F("places_taken"))
    return queryset


def project_get_public(*, page_id: int) -> ProjectPage:
    """One published, public project with what its page shows; 404 otherwise."""
    project = project_list_public().filter(pk=page_id).first()
    if project is None:
        raise Http404
    return project


def project_supply_list() -> QuerySet[ProjectPage]:
    """Supply for matching: published, public projects that still have places
    (`capacity > places_taken`) and have not ended, with organisation, service types and
    streets loaded. Matching reads this to offer projects to approved needs; a project's
    open capacity is `capacity - places_taken`."""
    return project_list_public(open_only=True).filter(ends_on__gte=timezone.localdate())
