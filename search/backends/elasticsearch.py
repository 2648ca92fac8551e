"""The Elasticsearch backend: production search with Chinese word segmentation.

Indices and aliases
    Reads and writes go through the alias `<SEARCH_INDEX_PREFIX>-search`. Concrete indices are
    `<alias>-<timestamp>` (or `<alias>-initial`, made on the first write to an empty cluster) and
    get their settings and mapping from the composable template `<alias>` (search.documents).
    Writes use `require_alias`, so a missing alias is an error instead of Elasticsearch quietly
    auto-creating a concrete index under the alias's name with a guessed mapping.

Zero-downtime rebuild (`rebuild`)
    A new index is created behind a second alias, `<alias>-next`, bulk-loaded, refreshed, and
    then one `update_aliases` call moves `<alias>` from the old index to the new one; the old
    index is deleted afterwards. Until that call, searches read the old index.
    While the new index loads, `index` and `delete` write through both aliases, so changes
    drained from the outbox during a rebuild land in the new index as well. The load itself uses
    `create`, so a document it read earlier never overwrites a newer one written that way. A
    document deleted during the load may still be loaded afterwards; the periodic reconcile sees
    the extra document and removes it. One rebuild at a time: a rebuild removes indices left
    behind by one that failed, including one still running.

Queries (`build_query`)
    User input only ever reaches `multi_match` and `match_phrase`, which analyse text and never
    parse query syntax. Facet filters sit in `post_filter` so that each facet's aggregation can
    apply every filter except its own. The caller refuses pages past `MAX_RESULT_WINDOW`
    (10,000 results, Elasticsearch's `max_result_window`); should one get through,
    `build_query` asks only for the count and facets, so the answer is an empty page instead of
    a server error.

Every transport or API error becomes `SearchUnavailable`; the outbox keeps the work and
retries.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch, TransportError
from elasticsearch.dsl import A, Q, Search
from elasticsearch.helpers import BulkIndexError, ScanError, bulk, scan

from search.analysis import SEARCH_ANALYZER
from search.backends.base import (
    DOC_TYPES,
    Hit,
    SearchDoc,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
)
from search.documents import MAX_RESULT_WINDOW, SearchDocument, index_pattern, index_template

logger = logging.getLogger(__name__)

# Longer input is cut before analysis: it bounds the number of clauses a query expands to.
# Callers validate length first; this only keeps a slip from costing the cluster.
MAX_QUERY_CHARS = 500

# Title weight against body in the text match; an exact phrase in the title adds more on top,
# so "社区居家养老" typed whole ranks the project of that name first.
TITLE_BOOST = 3
TITLE_PHRASE_BOOST = 5

# Characters of body shown when nothing in it matched (and for the empty query).
SNIPPET_CHARS = 100

HIGHLIGHT_PRE, HIGHLIGHT_POST = "<mark>", "</mark>"

# Facet name -> (value field, label field). A facet's buckets are keyed by value; the label is
# what the page shows.
FACETS: dict[str, tuple[str, str]] = {
    "type": ("type", "type"),
    "street": ("street_id", "street"),
    "service_type": ("service_type_id", "service_type"),
    "status": ("status", "status_display"),
}
# Enough buckets for every street of the district and every service type in the catalogue.
FACET_SIZE = 100

# Labels kept per facet value; more than one only when types label a shared value apart.
FACET_LABELS = 5

# Documents per bulk request; a few hundred short Chinese texts is well under a megabyte.
BULK_CHUNK = 500


# --- pure functions: tested on their JSON ------------------------------------------------------


def _facet_filters(query: SearchQuery) -> dict[str, Q]:
    """The filter each active facet applies, by facet name."""
    filters: dict[str, Q] = {}
    if query.types:
        filters["type"] = Q("terms", type=list(query.types))
    if query.street_id is not None:
        filters["street"] = Q("term", street_id=str(query.street_id))
    if query.service_type_id is not None:
        filters["service_type"] = Q("term", service_type_id=str(query.service_type_id))
    if query.status:
        filters["status"] = Q("term", status=query.status)
    return filters


def _all_of(filters: Sequence[Q]) -> Q:
    """A non-scoring conjunction (cached by Elasticsearch), or match_all when there is none."""
    return Q("bool", filter=list(filters)) if filters else Q("match_all")


def _text_query(text: str) -> Q:
    """Relevance for the user's words: all of them (most, for long input) across title and body,
    title weighted, an exact phrase in the title weighted again."""
    return Q(
        "bool",
        must=[
            Q(
                "multi_match",
                query=text,
                fields=[f"title^{TITLE_BOOST}", "body"],
                # Words may be split between title and body ("养老" in the title, "明光路" in
                # the body) and still count as one match.
                type="cross_fields",
                analyzer=SEARCH_ANALYZER,
                operator="or",
                # Up to two words: all required; more: three in four, so one word the
                # segmenter split oddly does not lose the document.
                minimum_should_match="2<75%",
            )
        ],
        should=[
            Q(
                "match_phrase",
                title={
                    "query": text,
                    "analyzer": SEARCH_ANALYZER,
                    "boost": TITLE_PHRASE_BOOST,
                },
            )
        ],
    )


def build_query(query: SearchQuery) -> dict[str, Any]:
    """The search request body for `query` (pure: no server, no settings).

    - empty text: `match_all`, newest first;
    - text: `_text_query`, best first, newest first among equals;
    - facet filters: `post_filter` (a `bool.filter`), so hits are filtered but aggregations are
      not; each facet's aggregation is wrapped in a `filter` aggregation holding every other
      active filter, so it counts as if its own filter were off;
    - highlight: title and body, `<mark>` tags, html encoder (the text around the marks is
      escaped, so the snippet is safe to render);
    - paging: `from`/`size`; past `MAX_RESULT_WINDOW` only the count and facets are asked for.
    """
    text = query.q.strip()[:MAX_QUERY_CHARS]
    page = max(query.page, 1)
    size = max(query.page_size, 0)
    start = (page - 1) * size
    if start + size > MAX_RESULT_WINDOW:
        start, size = 0, 0

    search = Search().query(_text_query(text) if text else Q("match_all"))
    search = search.sort("_score", {"updated_at": {"order": "desc", "missing": "_last"}})

    filters = _facet_filters(query)
    if filters:
        search = search.post_filter(_all_of(list(filters.values())))

    for name, (value_field, label_field) in FACETS.items():
        others = [f for facet, f in filters.items() if facet != name]
        bucket = A("terms", field=value_field, size=FACET_SIZE)
        if label_field != value_field:
            bucket.bucket("label", "terms", field=label_field, size=FACET_LABELS)
        search.aggs.bucket(f"facet_{name}", A("filter", filter=_all_of(others))).bucket(
            "values", bucket
        )

    search = search.highlight_options(
        pre_tags=[HIGHLIGHT_PRE],
        post_tags=[HIGHLIGHT_POST],
        encoder="html",
    )
    # The whole title (it is short), one body fragment; `no_match_size` returns the start of
    # the body when the match was in the title only.
    search = search.highlight("title", number_of_fragments=0)
    search = search.highlight(
        "body",
        fragment_size=SNIPPET_CHARS,
        number_of_fragments=1,
        no_match_size=SNIPPET_CHARS,
    )
    search = search.source(["type", "object_id", "title", "url", "body"])
    search = search.extra(from_=start, size=size, track_total_hits=True)
    return search.to_dict()


def _snippet(source: dict[str, Any], highlight: dict[str, list[str]]) -> str:
    """One safe HTML snippet: the body fragment with a match, else the title with one, else
    the start of the body (escaped here, since Elasticsearch did not encode it)."""
    body = highlight.get("body") or []
    title = highlight.get("title") or []
    for fragments in (body, title):
        if fragments and HIGHLIGHT_PRE in fragments[0]:
            return fragments[0]
    if body:
        return body[0]
    return html.escape((source.get("body") or "")[:SNIPPET_CHARS])


def _facet_order(name: str):
    """Types in `DOC_TYPES` order; other facets by count, then label (as the database
    backend lists them)."""
    if name == "type":
        return lambda t: (DOC_TYPES.index(t[0]) if t[0] in DOC_TYPES else len(DOC_TYPES), t[0])
    return lambda t: (-t[2], t[1])


def parse_response(response: dict[str, Any]) -> SearchResult:
    """A `SearchResult` from a search response body (pure)."""
    hits = []
    for raw in response.get("hits", {}).get("hits", []):
        source = raw.get("_source", {})
        hits.append(
            Hit(
                type=source["type"],
                id=int(source["object_id"]),
                title=source.get("title", ""),
                url=source.get("url", ""),
                highlight=_snippet(source, raw.get("highlight", {})),
                score=float(raw.get("_score") or 0.0),
            )
        )
    total = response.get("hits", {}).get("total", {})
    count = total.get("value", 0) if isinstance(total, dict) else int(total or 0)

    facets: dict[str, list[tuple[str, str, int]]] = {}
    aggregations = response.get("aggregations", {})
    for name in FACETS:
        buckets = aggregations.get(f"facet_{name}", {}).get("values", {}).get("buckets", [])
        triples = []
        for bucket in buckets:
            value = str(bucket["key"])
            # One value may carry two labels (a status shared by two types): show both.
            labels = [str(b["key"]) for b in bucket.get("label", {}).get("buckets", [])]
            triples.append((value, "/".join(labels) or value, int(bucket["doc_count"])))
        facets[name] = sorted(triples, key=_facet_order(name))
    return SearchResult(count=count, hits=hits, facets=facets)


def alias_actions(
    alias: str,
    old_indices: Iterable[str],
    new_index: str,
    *,
    staging_alias: str | None = None,
) -> list[dict[str, dict[str, str]]]:
    """The `update_aliases` actions that move `alias` from `old_indices` to `new_index` (and
    take `staging_alias` off the new index). Elasticsearch applies them as one atomic step, so
    no search ever sees no index, or two."""
    actions: list[dict[str, dict[str, str]]] = [
        {"remove": {"index": old, "alias": alias}} for old in sorted(old_indices)
    ]
    actions.append({"add": {"index": new_index, "alias": alias}})
    if staging_alias:
        actions.append({"remove": {"index": new_index, "alias": staging_alias}})
    return actions


def new_index_name(alias: str, now: datetime | None = None) -> str:
    """A fresh concrete index name under `alias`'s pattern; microseconds keep two rebuilds in
    the same second apart, and Elasticsearch requires lower case."""
    now = now or datetime.now(UTC)
    return f"{alias}-{now:%Y%m%d%H%M%S%f}".lower()


def counts_request() -> dict[str, Any]:
    """The request body for per-type document counts (pure)."""
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {"types": {"terms": {"field": "type", "size": len(DOC_TYPES) + 10}}},
    }


# --- the backend ------------------------------------------------------------------------------


def _bulk_reason(errors: list[dict[str, Any]]) -> str:
    """The first refusal's status and reason, without the document it carried."""
    if not errors:
        return "no detail"
    item = next(iter(errors[0].values()), {})
    error = item.get("error") or {}
    reason = error.get("reason", "") if isinstance(error, dict) else str(error)
    kind = error.get("type", "") if isinstance(error, dict) else ""
    return f"{item.get('status')} {kind} {reason}".strip()


@contextmanager
def _unavailable(action: str) -> Iterator[None]:
    """Turn every transport, API and bulk error into `SearchUnavailable`."""
    try:
        yield
    except BulkIndexError as exc:
        raise SearchUnavailable(
            f"{action}: {len(exc.errors)} refused, e.g. {_bulk_reason(exc.errors)}"
        ) from exc
    except (ApiError, TransportError, ScanError) as exc:
        raise SearchUnavailable(f"{action}: {type(exc).__name__}: {exc}") from exc


class ElasticsearchBackend:
    """`SearchBackend` on Elasticsearch. Cheap to construct; the client is the process's shared
    one unless a test passes its own."""

    name = "elasticsearch"

    def __init__(
        self,
        *,
        client: Elasticsearch | None = None,
        alias: str | None = None,
        refresh: bool = False,
    ) -> None:
        """`refresh=True` makes each write searchable before it returns (tests); production
        lets Elasticsearch refresh on its own schedule (about a second)."""
        from search.client import get_client, search_alias

        self._client = client or get_client()
        self.alias = alias or search_alias()
        self.staging_alias = f"{self.alias}-next"
        self.refresh = refresh

    # -- index management

    def _indices(self) -> dict[str, set[str]]:
        """Every concrete index under our pattern and the aliases it carries. A wildcard
        lookup, so an empty cluster answers `{}` rather than 404."""
        response = self._client.indices.get_alias(index=index_pattern(self.alias))
        return {index: set(body.get("aliases", {})) for index, body in response.body.items()}

    def _put_template(self) -> None:
        """Install (or update) the template before any index is created under the pattern."""
        template = index_template(self.alias).to_dict()
        self._client.indices.put_index_template(name=self.alias, **template)

    def _bootstrap(self) -> None:
        """Create the first index with the alias, for a write to an empty cluster. The fixed
        name makes a race between two workers harmless: the second one's create fails with
        `resource_already_exists`, which is ignored."""
        self._put_template()
        try:
            self._client.indices.create(index=f"{self.alias}-initial", aliases={self.alias: {}})
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise

    def _write_targets(self, *, create: bool) -> list[str]:
        """The aliases a write goes through: the live one and, during a rebuild, the staging
        one. With `create`, an empty cluster gets its first index."""
        indices = self._indices()
        live = any(self.alias in aliases for aliases in indices.values())
        if not live and create:
            self._bootstrap()
            live = True
        targets = [self.alias] if live else []
        if any(self.staging_alias in aliases for aliases in indices.values()):
            targets.append(self.staging_alias)
        return targets

    def _bulk(
        self, actions: Iterable[dict[str, Any]], *, ignore_status: tuple[int, ...] = ()
    ) -> int:
        """Send actions through aliases only; returns how many succeeded."""
        success, _ = bulk(
            self._client,
            actions,
            chunk_size=BULK_CHUNK,
            ignore_status=ignore_status,
            require_alias=True,
            # "true", not "wait_for": a rebuild's new index has refresh turned off while it
            # loads, and a write waiting for a refresh there would wait for the whole load.
            refresh="true" if self.refresh else None,
        )
        return int(success)

    # -- SearchBackend

    def index(self, docs: Iterable[SearchDoc]) -> int:
        """Add or replace documents through the alias (and the staging alias during a
        rebuild). `docs` may be a long generator: it is streamed in bulk chunks."""
        iterator = iter(docs)
        first = next(iterator, None)
        if first is None:
            return 0
        written = 0

        def actions(targets: list[str]) -> Iterator[dict[str, Any]]:
            nonlocal written
            for doc in chain([first], iterator):
                document = SearchDocument.from_search_doc(doc)
                written += 1
                for target in targets:
                    yield {
                        "_op_type": "index",
                        "_index": target,
                        "_id": document.meta.id,
                        "_source": document.source(),
                    }

        with _unavailable("index"):
            self._bulk(actions(self._write_targets(create=True)))
        return written

    def delete(self, keys: Iterable[tuple[str, int]]) -> int:
        """Remove documents by (type, id); returns how many the live index held. Missing
        documents, or no index at all, are not an error."""
        ids = [SearchDocument.key(doc_type, object_id) for doc_type, object_id in keys]
        if not ids:
            return 0
        with _unavailable("delete"):
            targets = self._write_targets(create=False)
            removed = 0
            for target in targets:
                actions = [{"_op_type": "delete", "_index": target, "_id": id_} for id_ in ids]
                done = self._bulk(actions, ignore_status=(404,))
                if target == self.alias:
                    removed = done
        return removed

    def search(self, query: SearchQuery) -> SearchResult:
        """Run `query` against the alias; no index yet means no results."""
        with _unavailable("search"):
            response = self._client.search(
                index=self.alias,
                body=build_query(query),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        return parse_response(response.body)

    def counts(self) -> dict[str, int]:
        """Documents per type in the live index, every type present (0 when absent). Writes
        made in the last second may not be counted yet; reconcile tolerates that, since
        re-indexing is idempotent."""
        with _unavailable("counts"):
            response = self._client.search(
                index=self.alias,
                body=counts_request(),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        result = dict.fromkeys(DOC_TYPES, 0)
        buckets = response.body.get("aggregations", {}).get("types", {}).get("buckets", [])
        for bucket in buckets:
            result[str(bucket["key"])] = int(bucket["doc_count"])
        return result

    def keys(self, doc_type: str) -> set[int]:
        """Ids held for one type, so that reconcile can schedule exactly what is missing or
        extra. Scrolls ids only (no text), a thousand at a time."""
        with _unavailable("keys"):
            return {
                int(hit["_source"]["object_id"])
                for hit in scan(
                    self._client,
                    index=self.alias,
                    query={"query": {"term": {"type": doc_type}}, "_source": ["object_id"]},
                    size=1000,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )
            }

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Load `docs` into a new index and swap the alias to it in one step; the old index
        serves searches until then and is deleted after. If anything fails before the swap the
        new index is dropped and the old one keeps serving; an error raised by `docs` itself
        (a builder's) propagates unchanged, transport errors as `SearchUnavailable`."""
        with _unavailable("rebuild"):
            self._put_template()
            # Indices without the live alias are left over from a failed rebuild (or belong to
            # one running now, which this one supersedes).
            leftovers = [i for i, aliases in self._indices().items() if self.alias not in aliases]
            if leftovers:
                self._client.indices.delete(index=",".join(leftovers), ignore_unavailable=True)
            new_index = new_index_name(self.alias)
            # Refreshing during a bulk load only creates segments to merge later.
            self._client.indices.create(
                index=new_index,
                settings={"index": {"refresh_interval": "-1"}},
                aliases={self.staging_alias: {}},
            )
        try:
            with _unavailable("rebuild"):
                loaded = self._load(new_index, docs)
                self._client.indices.put_settings(
                    index=new_index, settings={"index": {"refresh_interval": None}}
                )
                self._client.indices.refresh(index=new_index)
                old = [i for i, aliases in self._indices().items() if self.alias in aliases]
                self._client.indices.update_aliases(
                    actions=alias_actions(
                        self.alias, old, new_index, staging_alias=self.staging_alias
                    )
                )
        except BaseException:
            self._discard(new_index)
            raise
        if old:
            try:
                self._client.options(ignore_status=404).indices.delete(index=",".join(old))
            except (ApiError, TransportError):
                # Searches already read the new index; the next rebuild removes the orphan.
                logger.warning("search rebuild: could not delete old index %s", old)
        logger.info("search rebuild: %s documents in %s (was %s)", loaded, new_index, old)
        return loaded

    def _discard(self, index_name: str) -> None:
        """Drop a half-built index after a failed rebuild; the old index still serves. If the
        swap may have gone through (the error came with or after its answer) the index is
        checked first, and kept when it carries the live alias or when that cannot be told:
        the next rebuild removes a leftover, but a deleted live index would empty the search."""
        try:
            if self.alias in self._indices().get(index_name, set()):
                logger.warning("search rebuild: %s went live despite the error", index_name)
                return
            self._client.options(ignore_status=404).indices.delete(index=index_name)
        except (ApiError, TransportError):
            logger.warning("search rebuild: could not drop %s; the next rebuild will", index_name)

    def _load(self, index_name: str, docs: Iterable[SearchDoc]) -> int:
        """Bulk-load documents into the new concrete index. `create` leaves alone any document
        the outbox already wrote there during the load, which is newer than ours."""
        loaded = 0

        def actions() -> Iterator[dict[str, Any]]:
            nonlocal loaded
            for doc in docs:
                document = SearchDocument.from_search_doc(doc)
                loaded += 1
                yield {
                    "_op_type": "create",
                    "_index": index_name,
                    "_id": document.meta.id,
                    "_source": document.source(),
                }

        bulk(
            self._client,
            actions(),
            chunk_size=BULK_CHUNK,
            ignore_status=(409,),
            # Back off when the node is busy (429) instead of failing the whole rebuild.
            max_retries=3,
        )
        return loaded

    def healthy(self) -> bool:
        """Whether the server answers a ping within two seconds (no retries: `/healthz`
        must answer fast)."""
        return bool(self._client.options(request_timeout=2, max_retries=0).ping())
