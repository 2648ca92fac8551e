"""The database backend: search in the project's own database, for the embedded default and
CI (production searches Elasticsearch through the same interface).

Text is pre-segmented in Python (`search/segmentation.py`) into the entry's `title_terms` and
`body_terms`; the database only matches whole terms:

- PostgreSQL: `search_vector` = title terms weighted A ‖ body terms weighted B
  (`to_tsvector('simple', …)`, GIN index), matched with `@@`, ranked with `ts_rank`;
- SQLite: an FTS5 table over the two columns, ranked with bm25 (title weighted 10:1);
  a build without FTS5 falls back to LIKE over the terms (slow, but the same answers).

On both, a hit whose title holds every term ranks before any hit that matches only in its
body; rank decides within each group. Facets come from one grouped count over the matching
entries, and each facet is counted without its own filter."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.contrib.postgres.search import SearchQuery as PgQuery
from django.contrib.postgres.search import SearchRank, SearchVector, SearchVectorField
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Func,
    Q,
    TextField,
    Value,
)
from django.utils.html import escape

from search.backends.base import (
    DOC_TYPES,
    Hit,
    SearchDoc,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
)
from search.models import SearchEntry
from search.segmentation import ParsedQuery, Term, document_terms, parse_query

BATCH = 500
# Facet columns of an entry: (facet name, value column, label column).
FACETS = (
    ("type", "doc_type", "doc_type"),
    ("street", "street_id", "street"),
    ("service_type", "service_type_id", "service_type"),
    ("status", "status", "status_display"),
)
# Every facet column, each once: what a candidate row carries.
_GROUP_COLUMNS = tuple(dict.fromkeys(c for _name, value, label in FACETS for c in (value, label)))
_ENTRY_FIELDS = (
    "title",
    "body",
    "url",
    "street_id",
    "street",
    "service_type_id",
    "service_type",
    "status",
    "status_display",
    "updated_at",
    "title_terms",
    "body_terms",
)
SNIPPET_CHARS = 90
SNIPPET_LEAD = 24


def _vectors(title_terms: str, body_terms: str) -> dict:
    """PostgreSQL's vectors of an entry, computed in the statement that writes it: the
    weighted vector of both columns, and the title's alone (stripped of positions: it is
    only ever matched, never ranked)."""
    title = Value(title_terms, output_field=TextField())
    body = Value(body_terms, output_field=TextField())
    return {
        "search_vector": SearchVector(title, weight="A", config="simple")
        + SearchVector(body, weight="B", config="simple"),
        "title_vector": Func(
            SearchVector(title, config="simple"),
            function="strip",
            output_field=SearchVectorField(),
        ),
    }


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def entry_from_doc(doc: SearchDoc, *, vectors: bool = False) -> SearchEntry:
    """The row that stores one document, with its text segmented (and, with `vectors`, the
    PostgreSQL vectors to write with it)."""
    title_terms, body_terms = document_terms(doc.title), document_terms(doc.body)
    return SearchEntry(
        doc_type=doc.type,
        object_id=doc.id,
        title=doc.title[:300],
        body=doc.body,
        url=doc.url[:300],
        street_id=doc.street_id,
        street=doc.street[:64],
        service_type_id=doc.service_type_id,
        service_type=doc.service_type[:64],
        status=doc.status[:24],
        status_display=doc.status_display[:32],
        updated_at=doc.updated_at,
        title_terms=title_terms,
        body_terms=body_terms,
        **(_vectors(title_terms, body_terms) if vectors else {}),
    )


def highlight(text: str, words: Iterable[str], *, width: int = SNIPPET_CHARS) -> str:
    """A short piece of `text` around the first match, HTML-escaped, each matched word
    wrapped in <mark>. Words are tried longest first, then their character pairs (a word of
    three or more characters may have matched through its pairs only)."""
    text = " ".join((text or "").split())
    if not text:
        return ""
    alternatives = sorted({w for w in words if w}, key=len, reverse=True)
    pairs = {w[i : i + 2] for w in alternatives if len(w) > 2 for i in range(len(w) - 1)}
    alternatives += sorted(pairs - set(alternatives))
    pattern = (
        re.compile("|".join(re.escape(w) for w in alternatives), re.IGNORECASE)
        if alternatives
        else None
    )
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - SNIPPET_LEAD) if first else 0
    piece = text[start : start + width]
    out, pos = [], 0
    if pattern:
        for match in pattern.finditer(piece):
            out.append(escape(piece[pos : match.start()]))
            out.append(f"<mark>{escape(match.group())}</mark>")
            pos = match.end()
    out.append(escape(piece[pos:]))
    lead = "…" if start > 0 else ""
    tail = "…" if start + width < len(text) else ""
    # Neighbouring matches (a word found as two pairs) read as one mark.
    return lead + "".join(out).replace("</mark><mark>", "") + tail


def hit_highlight(*, title: str, body: str, words: tuple[str, ...]) -> str:
    """The snippet a hit shows: from the body where the query matched there, else the
    title with its matches marked, else the start of the body."""
    snippet = highlight(body, words)
    if "<mark>" in snippet or not words:
        return snippet or escape(title)
    titled = highlight(title, words, width=len(title) + 1)
    return titled if "<mark>" in titled else (snippet or titled)


def _facets(
    groups: list[dict], query: SearchQuery
) -> tuple[int, dict[str, list[tuple[str, str, int]]]]:
    """The total under every filter, and each facet counted under the others. `groups` are
    rows with the facet columns, each counting `n` (1 when absent)."""
    filters = {
        "type": set(query.types),
        "street": {str(query.street_id)} if query.street_id is not None else set(),
        "service_type": (
            {str(query.service_type_id)} if query.service_type_id is not None else set()
        ),
        "status": {query.status} if query.status else set(),
    }

    # Each group's facet values, and which filters it fails: a group counts for a facet when
    # it fails no filter but (at most) that facet's own.
    columns = [(column, label) for _name, column, label in FACETS]
    wanted = [filters[name] for name, _column, _label in FACETS]
    counts: list[Counter[str]] = [Counter() for _ in FACETS]
    labels: list[dict[str, dict[str, None]]] = [{} for _ in FACETS]
    total = 0
    for group in groups:
        n = group.get("n", 1)
        values = [group[c] for c, _l in columns]
        keys = ["" if v is None else str(v) for v in values]
        failed = [bool(w) and k not in w for k, w in zip(keys, wanted, strict=True)]
        misses = failed.count(True)
        if not misses:
            total += n
        for i, key in enumerate(keys):
            if key and misses - failed[i] == 0:
                counts[i][key] += n
                # The same status value may be labelled differently by two types.
                labels[i].setdefault(key, {})[group[columns[i][1]] or key] = None
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for i, (facet, _column, _label) in enumerate(FACETS):
        named = {key: "/".join(found) for key, found in labels[i].items()}
        if facet == "type":
            order = sorted(counts[i], key=lambda k: DOC_TYPES.index(k) if k in DOC_TYPES else 99)
        else:
            order = sorted(counts[i], key=lambda k, i=i: (-counts[i][k], named[k]))
        facets[facet] = [(k, named[k], counts[i][k]) for k in order]
    return total, facets


def _passes(candidate: dict, query: SearchQuery) -> bool:
    return (
        (not query.types or candidate["doc_type"] in query.types)
        and (query.street_id is None or candidate["street_id"] == query.street_id)
        and (query.service_type_id is None or candidate["service_type_id"] == query.service_type_id)
        and (not query.status or candidate["status"] == query.status)
    )


@dataclass(frozen=True)
class DatabaseSearchResult(SearchResult):
    """A result that also says whether `count` is exact or a lower bound."""

    count_exact: bool = True


class DatabaseBackend:
    """Search over `SearchEntry` rows in the database named by `using`."""

    name = "database"

    def __init__(self, using: str = "default"):
        self.using = using
        self._fts5: bool | None = None

    # --- plumbing ------------------------------------------------------------------------

    @property
    def _vendor(self) -> str:
        return connections[self.using].vendor

    def _entries(self):
        return SearchEntry.objects.using(self.using)

    def _has_fts5(self) -> bool:
        if self._fts5 is None:
            with connections[self.using].cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
                    ["search_entry_fts"],
                )
                self._fts5 = cursor.fetchone() is not None
        return self._fts5

    def _unavailable(self, exc: Exception) -> SearchUnavailable:
        return SearchUnavailable(f"database search unavailable: {exc}")

    @property
    def _with_vectors(self) -> bool:
        return self._vendor == "postgresql"

    # --- writes --------------------------------------------------------------------------

    def index(self, docs: Iterable[SearchDoc]) -> int:
        """Add or replace documents (upsert on type and id)."""
        written = 0
        try:
            for batch in _chunks(docs, BATCH):
                vectors = self._with_vectors
                entries = [entry_from_doc(d, vectors=vectors) for d in batch]
                fields = [*_ENTRY_FIELDS, *(("search_vector", "title_vector") if vectors else ())]
                self._entries().bulk_create(
                    entries,
                    update_conflicts=True,
                    unique_fields=["doc_type", "object_id"],
                    update_fields=fields,
                )
                written += len(entries)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        return written

    def delete(self, keys: Iterable[tuple[str, int]]) -> int:
        """Remove documents by (type, id); missing ones are not an error."""
        removed = 0
        try:
            for batch in _chunks(keys, BATCH):
                by_type: dict[str, list[int]] = {}
                for doc_type, object_id in batch:
                    by_type.setdefault(doc_type, []).append(int(object_id))
                match = Q()
                for doc_type, ids in by_type.items():
                    match |= Q(doc_type=doc_type, object_id__in=ids)
                removed += self._entries().filter(match).delete()[0]
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        return removed

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Replace every entry in one transaction: readers see the old entries until the
        commit, then the new ones."""
        written = 0
        try:
            with transaction.atomic(using=self.using):
                self._entries().all().delete()
                vectors = self._with_vectors
                for batch in _chunks(docs, BATCH):
                    self._entries().bulk_create([entry_from_doc(d, vectors=vectors) for d in batch])
                    written += len(batch)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        return written

    # --- reads ---------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Entries held per type (every type named, zero where there are none)."""
        try:
            rows = self._entries().values_list("doc_type").annotate(n=Count("pk")).order_by()
            held = dict(rows)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        return {t: held.get(t, 0) for t in DOC_TYPES} | {
            t: n for t, n in held.items() if t not in DOC_TYPES
        }

    def keys(self, doc_type: str) -> set[int]:
        """Ids held for one type (reconcile uses this, where a backend offers it, to find
        exactly which documents are missing or extra)."""
        try:
            return set(
                self._entries().filter(doc_type=doc_type).values_list("object_id", flat=True)
            )
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    def healthy(self) -> bool:
        """Whether the database answers."""
        try:
            with connections[self.using].cursor() as cursor:
                cursor.execute("SELECT 1")
                return cursor.fetchone() is not None
        except DatabaseError:
            return False

    def search(self, query: SearchQuery) -> SearchResult:
        """Run a query: an empty text matches every entry, text without any searchable
        term matches none. Title matches first, then rank, then newest entry.

        The work is bounded: at most `SEARCH_DB_CANDIDATES` of the newest matches are
        counted, faceted and ordered. Within that bound every figure is exact; past it
        `count` is the bound and `count_exact` is False (the page says "more than"), and
        title-first holds among those newest matches. A filter is applied in the database,
        so a narrowed search is exact again as soon as it fits the bound."""
        parsed = parse_query(query.q)
        if parsed.matches_nothing:
            return DatabaseSearchResult(
                count=0, hits=[], facets={name: [] for name, *_ in FACETS}, count_exact=True
            )
        cap = settings.SEARCH_DB_CANDIDATES
        try:
            fetch = self._fetcher(parsed)
            candidates, capped = fetch(parsed, Q(), cap)
            _total, facets = _facets(candidates, query)
            narrowed = self._filter_q(query)
            hits = [c for c in candidates if _passes(c, query)]
            ranked = not capped
            if capped and narrowed and len(hits) < cap:
                # The newest matches are known; those passing the filters are the newest
                # filtered matches. Look further back only, in a window sized by how dense
                # the filtered matches were among the newest.
                oldest = min(c["pk"] for c in candidates)
                span = max(c["pk"] for c in candidates) - oldest + 1
                need = cap - len(hits)
                width = span * (need + 1) // len(hits) + 1 if hits else span * 4
                more, capped = fetch(parsed, narrowed, need, below=oldest, width=width)
                hits += more
            # Scores order a list ranked as a whole; a bounded one stays newest first within
            # its title and body matches.
            hits.sort(key=lambda c: (not c["in_title"], -c["score"] if ranked else 0, -c["pk"]))
            start, stop = self._window(query)
            page = hits[start:stop]
            shown = {
                row["pk"]: row
                for row in self._entries()
                .filter(pk__in=[c["pk"] for c in page])
                .values("pk", "doc_type", "object_id", "title", "body", "url")
            }
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        return DatabaseSearchResult(
            count=len(hits),
            hits=[
                Hit(
                    type=shown[c["pk"]]["doc_type"],
                    id=shown[c["pk"]]["object_id"],
                    title=shown[c["pk"]]["title"],
                    url=shown[c["pk"]]["url"],
                    highlight=hit_highlight(
                        title=shown[c["pk"]]["title"],
                        body=shown[c["pk"]]["body"],
                        words=parsed.words,
                    ),
                    score=float(c["score"]),
                )
                for c in page
                if c["pk"] in shown
            ],
            facets=facets,
            count_exact=not capped,
        )

    def _fetcher(self, parsed: ParsedQuery):
        if parsed.empty:
            return self._candidates_all
        if self._vendor == "postgresql":
            return self._candidates_postgres
        if self._vendor == "sqlite" and self._has_fts5():
            return self._candidates_fts5
        return self._candidates_like

    def _filter_q(self, query: SearchQuery) -> Q:
        where = Q()
        if query.types:
            where &= Q(doc_type__in=list(query.types))
        if query.street_id is not None:
            where &= Q(street_id=query.street_id)
        if query.service_type_id is not None:
            where &= Q(service_type_id=query.service_type_id)
        if query.status:
            where &= Q(status=query.status)
        return where

    def _window(self, query: SearchQuery) -> tuple[int, int]:
        size = max(1, query.page_size)
        offset = (max(1, query.page) - 1) * size
        return offset, offset + size

    # Every backend: no text ---------------------------------------------------------------

    def _candidates_all(self, parsed: ParsedQuery, where: Q, cap: int, below=None, width=None):
        if below is not None:
            where &= Q(pk__lt=below)
        rows = list(
            self._entries()
            .filter(where)
            .order_by("-pk")
            .values("pk", "object_id", *_GROUP_COLUMNS)[: cap + 1]
        )
        for row in rows:
            row["in_title"], row["score"] = False, 0.0
        return rows[:cap], len(rows) > cap

    # PostgreSQL: GIN on the whole vector, the title vector read for candidates only ---------

    def _candidates_postgres(self, parsed: ParsedQuery, where: Q, cap: int, below=None, width=None):
        # Plain SQL: this runs up to a few times per search, and building the same query
        # through the ORM cost as much as running it.
        sql_where, params = _sql_filters(where)
        sql = (
            "SELECT id, object_id, title_vector @@ q AS in_title, "  # noqa: S608 - fixed SQL
            + ", ".join(_GROUP_COLUMNS)
            + " FROM search_entry, to_tsquery('simple', %s) AS q"
            " WHERE search_vector @@ q AND id > %s AND id <= %s"
            + sql_where
            + " ORDER BY id DESC LIMIT %s"
        )
        names = ("pk", "object_id", "in_title", *_GROUP_COLUMNS)
        tsquery = _tsquery(parsed.terms)
        rows: list[dict] = []
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            if below is None:
                cursor.execute("SELECT COALESCE(MAX(id), 0) FROM search_entry")
                high = cursor.fetchone()[0]
            else:
                high = below - 1
            # The newest matches, looked for in growing windows of ids: each query reads at
            # most the matches of its window. One query over every id would let PostgreSQL
            # read every match of a common word, or (taking words that come together for
            # independent) walk the whole table for a phrase. The first window of an
            # unfiltered search is read row by row: cheaper than reading a common word's
            # whole list from the GIN index.
            # (A filtered search keeps the bitmaps: it combines the GIN index with the
            # filter's own index, which beats reading the window row by row.)
            first = not sql_where
            if first:
                cursor.execute("SET LOCAL enable_bitmapscan = off")
            width = max(settings.SEARCH_DB_WINDOW, width or 0)
            while high > 0 and len(rows) <= cap:
                low = max(high - width, 0)
                cursor.execute(sql, [tsquery, low, high, *params, cap + 1 - len(rows)])
                rows += [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
                if first:
                    cursor.execute("SET LOCAL enable_bitmapscan = on")
                    first = False
                high, width = low, width * 4
        capped = len(rows) > cap
        rows = rows[:cap]
        scores: dict[int, float] = {}
        if len(rows) <= settings.SEARCH_DB_RANKED:
            # ts_rank reads each whole vector: worth it on a short list only; a long list
            # stays newest first within title and body matches.
            ranked = PgQuery(tsquery, search_type="raw", config="simple")
            scores = dict(
                self._entries()
                .filter(pk__in=[r["pk"] for r in rows])
                .annotate(score=SearchRank(F("search_vector"), ranked))
                .values_list("pk", "score")
            )
        for row in rows:
            row["score"] = scores.get(row["pk"], 0.0)
        return rows, capped

    def match_keys(self, q: str) -> set[tuple[str, int]]:
        """Every document the text matches, without the bound (checks and benchmarks)."""
        parsed = parse_query(q)
        if parsed.matches_nothing:
            return set()
        rows, _capped = self._fetcher(parsed)(parsed, Q(), 10**9)
        return {(r["doc_type"], r["object_id"]) for r in rows}

    # SQLite with FTS5 -----------------------------------------------------------------------

    def _candidates_fts5(self, parsed: ParsedQuery, where: Q, cap: int, below=None, width=None):
        # One query: FTS5 walks its matches newest first, each joined by rowid to its entry
        # for the facet columns and the filter, and stops at the LIMIT. (FTS5 would answer
        # "rowid IN (…)" by re-running the whole match for each id; fetching the entries
        # through the ORM in batches cost more than the match.)
        match = _fts5(parsed.terms)
        sql_where, params = _sql_filters(where)
        sql = (
            "SELECT e.id, bm25(search_entry_fts, 10.0, 1.0), e.object_id, "  # noqa: S608 - fixed SQL, values bound
            + ", ".join(f"e.{column}" for column in _GROUP_COLUMNS)
            + " FROM search_entry_fts JOIN search_entry e ON e.id = search_entry_fts.rowid"
            " WHERE search_entry_fts MATCH %s"
            + ("" if below is None else " AND search_entry_fts.rowid < %s")
            + sql_where
            + " ORDER BY search_entry_fts.rowid DESC LIMIT %s"
        )
        names = ("pk", "score", "object_id", *_GROUP_COLUMNS)
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, [match, *([] if below is None else [below]), *params, cap + 1])
            # bm25 is lower for better matches.
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
            for row in rows:
                row["score"] = -row["score"]
            capped, rows = len(rows) > cap, rows[:cap]
            titled: set[int] = set()
            if rows:
                cursor.execute(
                    "SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s "
                    "AND rowid >= %s AND rowid <= %s",
                    [f"title_terms : ({match})", rows[-1]["pk"], rows[0]["pk"]],
                )
                titled = {pk for (pk,) in cursor.fetchall()}
        for row in rows:
            row["in_title"] = row["pk"] in titled
        return rows, capped

    # Anything else: LIKE over the terms -----------------------------------------------------

    def _candidates_like(self, parsed: ParsedQuery, where: Q, cap: int, below=None, width=None):
        if below is not None:
            where &= Q(pk__lt=below)
        matching, in_title = self._entries().filter(where), Q()
        for term in parsed.terms:
            matching = matching.filter(_like(term, "title_terms") | _like(term, "body_terms"))
            in_title &= _like(term, "title_terms")
        rows = list(
            matching.annotate(in_title=ExpressionWrapper(in_title, output_field=BooleanField()))
            .order_by("-pk")
            .values("pk", "object_id", "in_title", *_GROUP_COLUMNS)[: cap + 1]
        )
        for row in rows:
            row["score"] = 0.0
        return rows[:cap], len(rows) > cap


def _sql_filters(where: Q) -> tuple[str, list]:
    """The SQL of a filter built by `_filter_q` (" AND …" with its parameters)."""
    if not where:
        return "", []
    sql, params = SearchEntry.objects.filter(where).values("pk").query.sql_with_params()
    # The ORM's own WHERE clause, on the one table, with its values bound as parameters.
    clause = sql.split(" WHERE ", 1)[1]
    return " AND (" + clause.replace('"search_entry".', "") + ")", list(params)


def _tsquery(terms: tuple[Term, ...], *, weight: str = "") -> str:
    """A to_tsquery text: every term quoted (terms hold letters and digits only)."""
    parts = []
    for term in terms:
        flags = ("*" if term.prefix else "") + weight
        parts.append(f"'{term.text}'" + (f":{flags}" if flags else ""))
    return " & ".join(parts)


def _fts5(terms: tuple[Term, ...]) -> str:
    """An FTS5 MATCH text: every term a quoted string, prefix terms starred."""
    return " AND ".join(f'"{t.text}"' + ("*" if t.prefix else "") for t in terms)


def _like(term: Term, column: str) -> Q:
    """Whole-term match in a space-separated terms column (prefix: term start)."""
    if term.prefix:
        return Q(**{f"{column}__startswith": term.text}) | Q(
            **{f"{column}__contains": f" {term.text}"}
        )
    return (
        Q(**{column: term.text})
        | Q(**{f"{column}__startswith": f"{term.text} "})
        | Q(**{f"{column}__contains": f" {term.text} "})
        | Q(**{f"{column}__endswith": f" {term.text}"})
    )
