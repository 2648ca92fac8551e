"""The one interface both search backends implement, and the plain data they exchange.

Documents are public projections built from domain selectors: titles and de-identified
text only, never names of people, ID numbers, phones or incomes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# Every document type, in the order facets list them.
DOC_TYPES = ("project", "need", "organisation", "opportunity", "catalogue_item", "tender")


class SearchUnavailable(Exception):
    """The backend cannot be reached or refused the operation; callers retry later."""


@dataclass(frozen=True)
class SearchDoc:
    """One searchable thing. (`type`, `id`) is its key."""

    type: str
    id: int
    title: str
    body: str
    url: str
    street_id: int | None = None
    street: str = ""
    service_type_id: int | None = None
    service_type: str = ""
    status: str = ""
    status_display: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SearchQuery:
    """A validated query: text (may be empty), facet filters and a page (1-based)."""

    q: str = ""
    types: tuple[str, ...] = ()
    street_id: int | None = None
    service_type_id: int | None = None
    status: str = ""
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class Hit:
    type: str
    id: int
    title: str
    url: str
    highlight: str
    score: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    """`facets` maps a facet name ("type", "street", "service_type", "status") to
    (value, label, count) triples for the query without that facet's own filter."""

    count: int
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)


class SearchBackend(Protocol):
    name: str

    def index(self, docs: Iterable[SearchDoc]) -> int:
        """Add or replace documents; returns how many were written."""

    def delete(self, keys: Iterable[tuple[str, int]]) -> int:
        """Remove documents by (type, id); missing ones are not an error."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Run a query; title matches rank before body matches."""

    def counts(self) -> dict[str, int]:
        """Documents held per type (the reconcile task compares these with the domain)."""

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Build a complete new index from `docs` and switch reads to it at once (an
        alias swap on Elasticsearch); the old index serves until the switch."""

    def healthy(self) -> bool:
        """Whether the backend answers now."""
