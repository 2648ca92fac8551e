"""Search backends behind one interface: Elasticsearch in production, the database
everywhere else. `get_backend()` returns the one the settings name."""

from search.backends.base import (
    DOC_TYPES,
    Hit,
    SearchBackend,
    SearchDoc,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
)

__all__ = [
    "DOC_TYPES",
    "Hit",
    "SearchBackend",
    "SearchDoc",
    "SearchQuery",
    "SearchResult",
    "SearchUnavailable",
]
