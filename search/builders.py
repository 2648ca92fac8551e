"""Documents built from the domain's public selectors: search is a projection of what the
site already shows to the public (and, for open needs, to signed-in providers).

Each document type has one `_Source`: the selector's rows that may be searched now, and the
public projection of one row. A key whose row is not (or no longer) among them has no
document: the outbox drain removes it from the index. What never enters a document: names of
people in need or of contact persons, ID numbers, phones, incomes, addresses of households.
An open need carries only its service type, community, street and the de-identified public
description (`Need.PUBLIC_FIELDS`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from search.backends.base import DOC_TYPES, SearchDoc

# Every status a document may carry, with its label: the search's own vocabulary, so a
# status filter means one thing across types (a need "open" for matching and an opportunity
# "recruiting" volunteers are different states).
STATUS_LABELS = {
    "live": gettext_lazy("已发布"),
    "open": gettext_lazy("对接中"),
    "verified": gettext_lazy("已认证"),
    "recruiting": gettext_lazy("招募中"),
    "listed": gettext_lazy("列入服务清单"),
    "unlisted": gettext_lazy("未列入服务清单"),
    "published": gettext_lazy("公告中"),
    "opened": gettext_lazy("已开标"),
    "complete": gettext_lazy("已完成"),
    "cancelled": gettext_lazy("已终止"),
}
TYPE_LABELS = {
    "project": gettext_lazy("服务项目"),
    "need": gettext_lazy("服务需求"),
    "organisation": gettext_lazy("组织"),
    "opportunity": gettext_lazy("志愿活动"),
    "catalogue_item": gettext_lazy("购买服务目录"),
    "tender": gettext_lazy("采购项目"),
}
BODY_CHARS = 4000
CHUNK = 500


def _text(*parts: object) -> str:
    """Non-empty parts joined into one searchable text, capped."""
    joined = "\n".join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())
    return joined[:BODY_CHARS]


def _rich(html: str) -> str:
    return " ".join(strip_tags(html or "").split())


def _facets(*, status: str, street=None, service_type=None) -> dict:
    """A document's facet fields: its status with its label, and the id and name of its
    street and service type (either may be missing)."""
    return {
        "street_id": street.pk if street else None,
        "street": street.name if street else "",
        "service_type_id": service_type.pk if service_type else None,
        "service_type": service_type.name if service_type else "",
        "status": status,
        "status_display": str(STATUS_LABELS[status]),
    }


# --- Service projects (charity) ---------------------------------------------------------


def _projects() -> QuerySet:
    from charity.selectors.projects import project_list_public

    return project_list_public().order_by("pk")


def _project_doc(page, _ctx: dict) -> SearchDoc:
    service_types = sorted(page.service_types.all(), key=lambda s: (s.position, s.code))
    streets = sorted(page.streets.all(), key=lambda a: a.code)
    return SearchDoc(
        type="project",
        id=page.pk,
        title=page.title,
        body=_text(
            page.summary,
            page.eligibility,
            _rich(page.body),
            page.organisation.name,
            "、".join(str(k) for k in page.kinds),
            "、".join(s.name for s in service_types),
            "、".join(a.name for a in streets),
        ),
        url=page.get_url() or "",
        # One street and one service type per document: the first of the project's (its
        # other streets and types are in the text).
        **_facets(
            status="live",
            street=streets[0] if streets else None,
            service_type=service_types[0] if service_types else None,
        ),
        updated_at=page.last_published_at,
    )


# --- Open needs (de-identified) ---------------------------------------------------------


def _needs() -> QuerySet:
    from marketplace.selectors.cases import need_public_list

    return need_public_list().order_by("pk")


def _need_doc(need, _ctx: dict) -> SearchDoc:
    # Only `Need.PUBLIC_FIELDS` are loaded; touching anything else would both cost a query
    # and risk reading what identifies the household.
    service = need.service_type.name
    return SearchDoc(
        type="need",
        id=need.pk,
        title=_("%(service)s需求 · %(community)s")
        % {"service": service, "community": need.community.name},
        body=_text(need.public_description, service, need.community.name, need.street.name),
        url=reverse("need-open-detail", args=[need.pk]),
        **_facets(status="open", street=need.street, service_type=need.service_type),
        updated_at=need.created_at,
    )


# --- Organisations ----------------------------------------------------------------------


def _organisations() -> QuerySet:
    from marketplace.selectors.directory import organisation_list_for_user

    # What an anonymous visitor sees: verified organisations only.
    return organisation_list_for_user(user=AnonymousUser()).order_by("pk")


def _organisation_doc(organisation, _ctx: dict) -> SearchDoc:
    street = organisation.street
    return SearchDoc(
        type="organisation",
        id=organisation.pk,
        title=organisation.name,
        body=_text(
            organisation.get_kind_display(),
            organisation.area.name,
            street.name if street and street.pk != organisation.area_id else "",
            organisation.address,
            organisation.description,
        ),
        url=organisation.get_absolute_url(),
        **_facets(status="verified", street=street),
        updated_at=organisation.verified_at or organisation.created_at,
    )


# --- Volunteer opportunities ------------------------------------------------------------


def _opportunities() -> QuerySet:
    from volunteers.selectors.opportunities import opportunity_public_list

    return opportunity_public_list().order_by("pk")


def _opportunity_doc(opportunity, _ctx: dict) -> SearchDoc:
    street = opportunity.street
    return SearchDoc(
        type="opportunity",
        id=opportunity.pk,
        title=opportunity.title,
        body=_text(
            opportunity.description,
            opportunity.organisation.name,
            opportunity.community.name,
            street.name if street else "",
            opportunity.address,
            "、".join(s.name for s in opportunity.skills.all()),
        ),
        url=opportunity.get_absolute_url(),
        **_facets(status="recruiting", street=street, service_type=opportunity.service_type),
        updated_at=opportunity.updated_at,
    )


# --- Purchasing: catalogue items and tenders ---------------------------------------------


def _procurement_base() -> tuple[object | None, str]:
    """The live purchasing page and its URL ('' when the site has none)."""
    page_model = apps.get_model("cms", "ProcurementIndexPage")
    page = page_model.objects.live().order_by("path").first()
    url = (page.get_url() or "") if page is not None else ""
    return page, url


def _subpage_url(ctx: dict, name: str, *args) -> str:
    if "procurement" not in ctx:
        ctx["procurement"] = _procurement_base()
    page, base = ctx["procurement"]
    if page is None or not base:
        return ""
    return base + page.reverse_subpage(name, args=list(args))


def _catalogue_items() -> Iterator:
    from marketplace.selectors.procurement_public import (
        catalogue_items_public,
        catalogue_years_public,
    )

    for year in catalogue_years_public():
        yield from catalogue_items_public(year=year.year)


def _catalogue_doc(item, ctx: dict) -> SearchDoc:
    page = _subpage_url(ctx, "catalogue-year", item.year)
    return SearchDoc(
        type="catalogue_item",
        id=item.pk,
        title=item.name,
        body=_text(
            _("%(year)s年度购买服务目录") % {"year": item.year},
            item.code,
            item.get_category_display(),
            item.description,
            item.service_standard,
            item.get_unit_display(),
        ),
        url=f"{page}#item-{item.code}" if page else "",
        **_facets(
            status="listed" if item.in_service_list else "unlisted",
            service_type=item.service_type,
        ),
    )


def _tenders() -> QuerySet:
    from marketplace.selectors.procurement_public import tender_list_public

    return tender_list_public().order_by("pk")


def _tender_doc(tender, ctx: dict) -> SearchDoc:
    from marketplace.models import ServiceType

    if "service_types" not in ctx:
        ctx["service_types"] = ServiceType.objects.in_bulk()
    lots = list(tender.lots.all())
    first = lots[0] if lots else None
    service_type_id = first.catalogue_item.service_type_id if first else None
    return SearchDoc(
        type="tender",
        id=tender.pk,
        title=tender.title,
        body=_text(
            tender.reference,
            _("%(year)s年度") % {"year": tender.year},
            tender.scope,
            tender.qualification_requirements,
            *(f"{lot.title} {lot.street.name} {lot.catalogue_item.name}" for lot in lots),
        ),
        url=_subpage_url(ctx, "tender", tender.pk)
        or reverse("tender-detail-agency", args=[tender.pk]),
        # A tender's lots may serve several streets: the first lot's is the facet.
        **_facets(
            status=tender.status,
            street=first.street if first else None,
            service_type=ctx["service_types"].get(service_type_id),
        ),
        updated_at=tender.published_at,
    )


# --- The registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    rows: Callable[[], Iterable]
    doc: Callable[[object, dict], SearchDoc]
    model: str


SOURCES: dict[str, _Source] = {
    "project": _Source(_projects, _project_doc, "charity.ProjectPage"),
    "need": _Source(_needs, _need_doc, "marketplace.Need"),
    "organisation": _Source(_organisations, _organisation_doc, "marketplace.Organisation"),
    "opportunity": _Source(_opportunities, _opportunity_doc, "volunteers.Opportunity"),
    "catalogue_item": _Source(_catalogue_items, _catalogue_doc, "marketplace.CatalogueItem"),
    "tender": _Source(_tenders, _tender_doc, "marketplace.Tender"),
}
assert set(SOURCES) == set(DOC_TYPES)


def _source(doc_type: str) -> _Source:
    try:
        return SOURCES[doc_type]
    except KeyError:
        raise ValueError(f"unknown search document type: {doc_type!r}") from None


def _filtered(rows: Iterable, ids: Iterable[int]) -> Iterable:
    ids = list(ids)
    if isinstance(rows, QuerySet):
        return rows.filter(pk__in=ids)
    wanted = set(ids)
    return (row for row in rows if row.pk in wanted)


def _iterate(rows: Iterable) -> Iterable:
    # Chunked iteration keeps memory flat on a district's rows; prefetches still apply.
    return rows.iterator(chunk_size=CHUNK) if isinstance(rows, QuerySet) else rows


def _build(source: _Source, row, ctx: dict) -> SearchDoc:
    # Labels are stored in the site's language, whatever language the caller runs in.
    with translation.override(settings.LANGUAGE_CODE):
        return source.doc(row, ctx)


def docs_for(doc_type: str, ids: Iterable[int]) -> dict[int, SearchDoc]:
    """The documents of these objects that may be searched now, by id; an id missing from
    the answer has no document (its object is gone or no longer public)."""
    source = _source(doc_type)
    ctx: dict = {}
    return {row.pk: _build(source, row, ctx) for row in _iterate(_filtered(source.rows(), ids))}


def docs_all(doc_type: str) -> Iterator[SearchDoc]:
    """Every document of one type, for a rebuild."""
    source = _source(doc_type)
    ctx: dict = {}
    for row in _iterate(source.rows()):
        yield _build(source, row, ctx)


def searchable_ids(doc_type: str) -> set[int]:
    """Ids of the objects of one type that should be in the index now."""
    rows = _source(doc_type).rows()
    if isinstance(rows, QuerySet):
        return set(rows.values_list("pk", flat=True))
    return {row.pk for row in rows}


def unsearchable_ids(doc_type: str) -> set[int]:
    """Ids of the objects of one type that exist but should not be in the index (drafts,
    closed needs, started opportunities…), for a backend that cannot list what it holds."""
    model = apps.get_model(_source(doc_type).model)
    return set(model._default_manager.values_list("pk", flat=True)) - searchable_ids(doc_type)
