"""Links to the public procurement pages for any template: `{% procurement_index_url %}`,
`{% catalogue_url year %}` and `{% public_tender_url tender %}`. The one procurement page is
looked up once per request; every tag gives an empty string when it does not exist, so a
staff page still renders on a site without it."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch

register = template.Library()

_CACHE = "_procurement_index_page"
_MISSING = object()


def _index(context):
    """The live procurement page (or None), cached on the request."""
    request = context.get("request")
    cached = getattr(request, _CACHE, _MISSING) if request is not None else _MISSING
    if cached is not _MISSING:
        return cached
    from cms.models import ProcurementIndexPage

    page = ProcurementIndexPage.objects.live().order_by("path").first()
    base = page.get_url(request=request) if page is not None else None
    found = (page, base) if base else None
    if request is not None:
        setattr(request, _CACHE, found)
    return found


def _subpage(context, name: str, *args) -> str:
    found = _index(context)
    if found is None:
        return ""
    page, base = found
    try:
        return base + page.reverse_subpage(name, args=list(args))
    except NoReverseMatch:
        return ""


@register.simple_tag(takes_context=True)
def procurement_index_url(context) -> str:
    """The public list of tenders (the procurement page itself)."""
    found = _index(context)
    return found[1] if found else ""


@register.simple_tag(takes_context=True)
def catalogue_url(context, year=None) -> str:
    """One year's public catalogue, or the list of years when no year is given."""
    if year in (None, ""):
        return _subpage(context, "catalogue")
    return _subpage(context, "catalogue-year", int(year))


@register.simple_tag(takes_context=True)
def public_tender_url(context, tender) -> str:
    """A tender's public notice (a tender object or its id). Drafts have no public notice,
    but the link is given all the same: the page answers 404 until it is published."""
    tender_id = getattr(tender, "pk", tender)
    if tender_id in (None, ""):
        return ""
    return _subpage(context, "tender", int(tender_id))


@register.simple_tag(takes_context=True)
def public_tender_ocds_url(context, tender) -> str:
    """A tender's OCDS release package."""
    tender_id = getattr(tender, "pk", tender)
    if tender_id in (None, ""):
        return ""
    return _subpage(context, "tender-ocds", int(tender_id))
