"""Keeping the index true: draining the outbox into the backend, reconciling what the index
holds with what the domain says should be there, and rebuilding it whole.

Only one drain runs at a time (a lock in the shared cache): two drains working on the same
object could otherwise write an older state after a newer one. A rebuild holds the same
lock, so changes made while it reads the domain wait in the outbox and are applied to the
new index after its switch."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from search import builders
from search.backends import get_backend
from search.backends.base import DOC_TYPES, SearchBackend, SearchDoc, SearchUnavailable
from search.models import SearchOutbox

logger = logging.getLogger(__name__)

LOCK_KEY = "search:outbox-drain"


@dataclass
class DrainReport:
    """What one drain did. `unavailable` says the backend refused and rows wait for a
    later attempt; `busy` says another drain held the lock (it takes these rows too)."""

    indexed: int = 0
    deleted: int = 0
    failed: int = 0
    rows: int = 0
    unavailable: bool = False
    busy: bool = False


@dataclass
class ReconcileReport:
    """Per type: documents held, documents expected, and the changes scheduled."""

    held: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    scheduled_index: dict[str, int] = field(default_factory=dict)
    scheduled_delete: dict[str, int] = field(default_factory=dict)


def _backoff(attempts: int) -> timedelta:
    base = settings.SEARCH_OUTBOX_RETRY_SECONDS
    return timedelta(
        seconds=min(settings.SEARCH_OUTBOX_MAX_BACKOFF, base * 2 ** max(0, attempts - 1))
    )


@contextmanager
def _drain_lock(*, wait: float = 0.0) -> Iterator[bool]:
    """Hold the drain lock while the block runs; yields whether it was obtained (waiting up
    to `wait` seconds). The lock expires by itself if its holder dies."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    acquired = cache.add(LOCK_KEY, token, timeout=settings.SEARCH_DRAIN_LOCK_SECONDS)
    while not acquired and time.monotonic() < deadline:
        time.sleep(0.2)
        acquired = cache.add(LOCK_KEY, token, timeout=settings.SEARCH_DRAIN_LOCK_SECONDS)
    try:
        yield acquired
    finally:
        if acquired and cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


def _claim(*, limit: int) -> list[SearchOutbox]:
    """Take up to `limit` due rows, oldest first, and lease them: a drain that dies leaves
    them due again once the lease runs out."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            SearchOutbox.objects.select_for_update(skip_locked=True)
            .filter(next_attempt_at__lte=now)
            .order_by("pk")[:limit]
        )
        if rows:
            SearchOutbox.objects.filter(pk__in=[r.pk for r in rows]).update(
                next_attempt_at=now + timedelta(seconds=settings.SEARCH_DRAIN_LOCK_SECONDS)
            )
    for row in rows:
        row.attempts += 1
    return rows


def _apply(backend: SearchBackend, rows: list[SearchOutbox]) -> tuple[int, int]:
    """Bring the index in line with the domain for every key the rows name; the latest row
    of a key decides. Returns (indexed, deleted)."""
    latest: dict[tuple[str, int], str] = {}
    for row in rows:
        latest[(row.doc_type, row.object_id)] = row.action
    docs: list[SearchDoc] = []
    removals: list[tuple[str, int]] = []
    for doc_type in DOC_TYPES:
        wanted = [k[1] for k, action in latest.items() if k[0] == doc_type and action == "index"]
        found = builders.docs_for(doc_type, wanted) if wanted else {}
        docs.extend(found.values())
        removals.extend(
            k
            for k, action in latest.items()
            if k[0] == doc_type and (action == "delete" or k[1] not in found)
        )
    indexed = backend.index(docs) if docs else 0
    deleted = backend.delete(removals) if removals else 0
    return indexed, deleted


def _fail(rows: list[SearchOutbox], exc: Exception) -> None:
    now = timezone.now()
    message = f"{type(exc).__name__}: {exc}"[:500]
    for row in rows:
        SearchOutbox.objects.filter(pk=row.pk).update(
            attempts=row.attempts,
            last_error=message,
            next_attempt_at=now + _backoff(row.attempts),
        )


def _done(rows: list[SearchOutbox]) -> None:
    SearchOutbox.objects.filter(pk__in=[r.pk for r in rows]).delete()


def search_outbox_drain(
    *, backend: SearchBackend | None = None, batch_size: int | None = None
) -> DrainReport:
    """Apply due outbox rows to the index, batch after batch, until none is due, the time
    budget is spent or the backend refuses. Rows are deleted once applied; rows that failed
    stay with their error and a later attempt time (doubling up to a cap). Never raises for
    a failing backend or a failing document: a search fault must not reach a write."""
    report = DrainReport()
    batch_size = batch_size or settings.SEARCH_OUTBOX_BATCH
    with _drain_lock() as acquired:
        if not acquired:
            report.busy = True
            return report
        backend = backend or get_backend()
        stop_at = time.monotonic() + settings.SEARCH_DRAIN_SECONDS
        while time.monotonic() < stop_at:
            rows = _claim(limit=batch_size)
            if not rows:
                break
            report.rows += len(rows)
            try:
                indexed, deleted = _apply(backend, rows)
            except SearchUnavailable as exc:
                logger.warning(
                    "search backend unavailable, %d outbox rows wait: %s", len(rows), exc
                )
                _fail(rows, exc)
                report.failed += len(rows)
                report.unavailable = True
                break
            except Exception:  # noqa: BLE001 - one bad row must not block the others
                logger.exception("search outbox batch failed; retrying its rows one by one")
                indexed, deleted = _apply_one_by_one(backend, rows, report)
            else:
                _done(rows)
            report.indexed += indexed
            report.deleted += deleted
    return report


def _apply_one_by_one(
    backend: SearchBackend, rows: list[SearchOutbox], report: DrainReport
) -> tuple[int, int]:
    indexed = deleted = 0
    for row in rows:
        try:
            i, d = _apply(backend, [row])
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried later
            logger.exception("search outbox row %s failed", row)
            _fail([row], exc)
            report.failed += 1
            report.unavailable |= isinstance(exc, SearchUnavailable)
        else:
            _done([row])
            indexed += i
            deleted += d
    return indexed, deleted


def search_outbox_pending() -> int:
    """Rows waiting in the outbox (due or backing off)."""
    return SearchOutbox.objects.count()


def _schedule_many(doc_type: str, ids: Iterable[int], action: str) -> int:
    now = timezone.now()
    rows = [
        SearchOutbox(doc_type=doc_type, object_id=i, action=action, next_attempt_at=now)
        for i in sorted(ids)
    ]
    SearchOutbox.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def search_reconcile(*, backend: SearchBackend | None = None) -> ReconcileReport:
    """Compare, per type, how many documents the index holds with how many objects may be
    searched, and schedule what is missing or extra. Where the backend can list the ids it
    holds the difference is exact; otherwise a type whose counts differ has every searchable
    object re-indexed and every other object of its model removed. Raises SearchUnavailable
    when the backend cannot be read (the periodic task tries again later)."""
    backend = backend or get_backend()
    report = ReconcileReport(held=backend.counts())
    list_keys: Callable[[str], set[int]] | None = getattr(backend, "keys", None)
    with transaction.atomic():
        for doc_type in DOC_TYPES:
            expected = builders.searchable_ids(doc_type)
            report.expected[doc_type] = len(expected)
            if len(expected) == report.held.get(doc_type, 0):
                continue
            if list_keys is not None:
                held = list_keys(doc_type)
                missing, extra = expected - held, held - expected
            else:
                missing, extra = expected, builders.unsearchable_ids(doc_type)
            report.scheduled_index[doc_type] = _schedule_many(doc_type, missing, "index")
            report.scheduled_delete[doc_type] = _schedule_many(doc_type, extra, "delete")
        if any(report.scheduled_index.values()) or any(report.scheduled_delete.values()):
            from search.public import _queue_drain

            transaction.on_commit(_queue_drain, robust=True)
    return report


def search_rebuild(
    *,
    doc_types: Iterable[str] | None = None,
    backend: SearchBackend | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Build documents from the domain and load them: every type → `backend.rebuild` (a new
    index, switched to at once); some types → their documents re-indexed in place and their
    stale documents removed. Returns documents written per type. Holds the drain lock so
    that no change is applied to an index about to be replaced."""
    backend = backend or get_backend()
    types = list(doc_types) if doc_types else list(DOC_TYPES)
    for doc_type in types:
        if doc_type not in DOC_TYPES:
            raise ValueError(f"unknown search document type: {doc_type!r}")
    counts = dict.fromkeys(types, 0)

    def counted(doc_type: str) -> Iterator[SearchDoc]:
        for doc in builders.docs_all(doc_type):
            counts[doc_type] += 1
            if progress and counts[doc_type] % 1000 == 0:
                progress(doc_type, counts[doc_type])
            yield doc
        if progress:
            progress(doc_type, counts[doc_type])

    with _drain_lock(wait=settings.SEARCH_DRAIN_LOCK_SECONDS) as acquired:
        if not acquired:
            logger.warning("search rebuild goes ahead without the drain lock")
        if set(types) == set(DOC_TYPES):
            backend.rebuild(doc for doc_type in types for doc in counted(doc_type))
        else:
            list_keys = getattr(backend, "keys", None)
            for doc_type in types:
                backend.index(counted(doc_type))
                expected = builders.searchable_ids(doc_type)
                stale = (
                    list_keys(doc_type) - expected
                    if list_keys is not None
                    else builders.unsearchable_ids(doc_type)
                )
                backend.delete((doc_type, i) for i in stale)
    return counts
