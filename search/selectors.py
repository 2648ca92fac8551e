"""Reads of search: one query run for one user, with what the page and the API show.

Search only holds what the site already shows: everyone may search projects, organisations,
opportunities, the purchasing catalogue and tenders; open needs are shown to signed-in users
only, as the open-needs list is."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field, replace

from django.utils.html import escape

from search.backends import get_backend
from search.backends.base import DOC_TYPES, Hit, SearchQuery, SearchResult
from search.builders import STATUS_LABELS, TYPE_LABELS

# Types only a signed-in user may search.
SIGNED_IN_TYPES = ("need",)


class PageOutOfRange(Exception):
    """The page asked for is past the last page of results."""

    def __init__(self, *, page: int, num_pages: int):
        self.page, self.num_pages = page, num_pages
        super().__init__(f"page {page} of {num_pages}")


@dataclass(frozen=True)
class FacetOption:
    """One value of a facet: its filter value, label, count and whether it is selected."""

    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchOutcome:
    """A query's answer as the page and the API give it."""

    query: SearchQuery
    count: int = 0
    count_exact: bool = True
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[FacetOption]] = field(default_factory=dict)
    num_pages: int = 0
    searched: bool = False

    @property
    def type_labels(self) -> dict[str, str]:
        return {k: str(v) for k, v in TYPE_LABELS.items()}


_MARK = re.compile(r"(</?mark>)")


def clean_highlight(snippet: str) -> str:
    """A backend's snippet with everything escaped except <mark> and </mark>, whatever the
    backend sent: the page prints it as HTML."""
    parts = _MARK.split(html.unescape(snippet or ""))
    return "".join(p if p in ("<mark>", "</mark>") else escape(p) for p in parts)


def search_types_for_user(*, user) -> tuple[str, ...]:
    """The document types this user may search."""
    if getattr(user, "is_authenticated", False):
        return DOC_TYPES
    return tuple(t for t in DOC_TYPES if t not in SIGNED_IN_TYPES)


def _selected(query: SearchQuery) -> dict[str, str]:
    return {
        "type": query.types[0] if len(query.types) == 1 else "",
        "street": str(query.street_id) if query.street_id is not None else "",
        "service_type": str(query.service_type_id) if query.service_type_id is not None else "",
        "status": query.status,
    }


def _facets(result: SearchResult, query: SearchQuery, allowed: tuple[str, ...]) -> dict:
    chosen = _selected(query)
    facets: dict[str, list[FacetOption]] = {}
    for name in ("type", "street", "service_type", "status"):
        options = []
        for value, label, count in result.facets.get(name, []):
            if name == "type":
                if value not in allowed:
                    continue
                label = str(TYPE_LABELS.get(value, label))
            elif name == "status" and value in STATUS_LABELS and "/" not in label:
                label = str(STATUS_LABELS[value])
            options.append(FacetOption(value, label, count, selected=chosen[name] == value))
        facets[name] = options
    return facets


def search_for_user(*, user, query: SearchQuery) -> SearchOutcome:
    """Run `query` for `user` through the active backend. An empty text is not searched
    (nothing to show but the form). Raises PageOutOfRange past the last page and
    SearchUnavailable when the backend cannot answer."""
    if not query.q.strip():
        return SearchOutcome(query=query)
    allowed = search_types_for_user(user=user)
    asked = replace(query, types=query.types or (allowed if allowed != DOC_TYPES else ()))
    result = get_backend().search(asked)
    num_pages = max(1, math.ceil(result.count / max(1, query.page_size))) if result.count else 0
    if query.page > max(num_pages, 1):
        raise PageOutOfRange(page=query.page, num_pages=num_pages)
    return SearchOutcome(
        query=query,
        count=result.count,
        count_exact=getattr(result, "count_exact", True),
        hits=[replace(h, highlight=clean_highlight(h.highlight)) for h in result.hits],
        facets=_facets(result, query, allowed),
        num_pages=num_pages,
        searched=True,
    )
