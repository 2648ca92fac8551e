"""The Elasticsearch document and the index template that shapes every concrete index.

One document class holds every searchable type (`type` says which) rather than one class and
index per type, because:

- the search page ranks all types in one list, and relevance scores are only comparable inside
  one index (term statistics are per index);
- the type facet is a single terms aggregation, with no cross-index merging;
- every type has the same shape (`SearchDoc`), so per-type mappings would be identical;
- one alias means one rebuild and one atomic swap.

The mapping is `dynamic: strict`: a field that is not declared here is refused, so nothing
outside the public projection (names of people, ID numbers, phones, incomes) can slip into the
index by a builder adding a key.
"""

from __future__ import annotations

from typing import Any

from elasticsearch.dsl import (
    ComposableIndexTemplate,
    Date,
    Document,
    Index,
    Keyword,
    MetaField,
    Text,
)

from search.analysis import chinese, chinese_search
from search.backends.base import SearchDoc

# Elasticsearch's default cap on from + size; paging deeper must be refused by the caller.
MAX_RESULT_WINDOW = 10_000

# Above Elasticsearch's built-in templates (priority 100 and below) so ours always wins for
# our pattern; two templates of equal priority may not share a pattern.
TEMPLATE_PRIORITY = 500

INDEX_SETTINGS: dict[str, Any] = {
    # The corpus is small (tens of thousands of documents): one shard keeps scoring exact.
    "number_of_shards": 1,
    # Production runs a single node; a replica could never be assigned there.
    "number_of_replicas": 0,
    "max_result_window": MAX_RESULT_WINDOW,
}


class SearchDocument(Document):
    """One searchable thing of any type; its `_id` is `<type>-<object_id>`."""

    type = Keyword()
    object_id = Keyword()
    title = Text(
        analyzer=chinese,
        search_analyzer=chinese_search,
        # Exact title for sorting and term lookups; very long titles are not worth a term.
        fields={"raw": Keyword(ignore_above=256)},
    )
    body = Text(analyzer=chinese, search_analyzer=chinese_search)
    # Stored for display only: never searched, sorted or aggregated.
    url = Keyword(index=False, doc_values=False)
    street_id = Keyword()
    street = Keyword()
    service_type_id = Keyword()
    service_type = Keyword()
    status = Keyword()
    status_display = Keyword()
    updated_at = Date()

    class Meta:
        dynamic = MetaField("strict")

    class Index:
        # Reads and writes name their target explicitly (the alias comes from settings at run
        # time, see search.client.search_alias); this default only gives `search_index()` a
        # definition to clone.
        name = "wushe-search"
        settings = INDEX_SETTINGS

    @staticmethod
    def key(doc_type: str, object_id: int) -> str:
        """The `_id` of a document: unique across types."""
        return f"{doc_type}-{object_id}"

    @classmethod
    def from_search_doc(cls, doc: SearchDoc) -> SearchDocument:
        """The indexed form of a backend document. Empty strings and missing ids are left out
        so that facets never show an empty bucket."""

        def keyword(value: object) -> str | None:
            return None if value in (None, "") else str(value)

        return cls(
            meta={"id": cls.key(doc.type, doc.id)},
            type=doc.type,
            object_id=str(doc.id),
            title=doc.title,
            body=doc.body,
            url=doc.url,
            street_id=keyword(doc.street_id),
            street=keyword(doc.street),
            service_type_id=keyword(doc.service_type_id),
            service_type=keyword(doc.service_type),
            status=keyword(doc.status),
            status_display=keyword(doc.status_display),
            updated_at=doc.updated_at,
        )

    def source(self) -> dict[str, Any]:
        """The `_source` body sent to Elasticsearch."""
        return self.to_dict()


def search_index(name: str) -> Index:
    """An index (or index pattern) with the analysis settings and the document mapping."""
    # A clone carries the document class along, so the mapping keeps its `dynamic: strict`.
    return SearchDocument._index.clone(name=name)


def index_pattern(alias: str) -> str:
    """The pattern of the concrete indices behind `alias` (`<alias>-<timestamp>`)."""
    return f"{alias}-*"


def index_template(alias: str) -> ComposableIndexTemplate:
    """The composable template named after the alias: every index created under
    `<alias>-*` gets the analysis settings and mapping, whoever creates it."""
    pattern = index_pattern(alias)
    return search_index(pattern).as_composable_template(
        alias, pattern=pattern, priority=TEMPLATE_PRIORITY
    )
