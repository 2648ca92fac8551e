"""What the rest of the project may call in search: two functions that say "this object
changed". Domain services call them inside their own transaction; neither ever talks to
the search backend, so a write never waits on search and never fails because of it.

    from search.public import schedule_reindex
    schedule_reindex(doc_type="need", object_id=need.pk)

The change is written as an outbox row in the caller's transaction (so it commits or rolls
back with the write) and a drain of the outbox is queued once the transaction commits."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from search.backends.base import DOC_TYPES

logger = logging.getLogger(__name__)


def _queue_drain() -> None:
    """Queue a drain of the outbox. If the broker is unreachable the row still waits in
    the outbox, and the periodic drain takes it."""
    from search.tasks import search_outbox_drain

    search_outbox_drain.delay()


def _schedule(*, doc_type: str, object_id: int, action: str) -> None:
    from search.models import SearchOutbox

    if doc_type not in DOC_TYPES:
        raise ValueError(f"unknown search document type: {doc_type!r}")
    SearchOutbox.objects.create(
        doc_type=doc_type,
        object_id=int(object_id),
        action=action,
        next_attempt_at=timezone.now(),
    )
    # robust: an error while queueing is logged, never raised into the committed write.
    transaction.on_commit(_queue_drain, robust=True)


def schedule_reindex(*, doc_type: str, object_id: int) -> None:
    """Bring one object's document up to date after the current transaction commits: it is
    (re)indexed if the object may be searched then, and removed otherwise."""
    _schedule(doc_type=doc_type, object_id=object_id, action="index")


def schedule_removal(*, doc_type: str, object_id: int) -> None:
    """Remove one object's document after the current transaction commits (the object was
    deleted, or withdrawn from the public)."""
    _schedule(doc_type=doc_type, object_id=object_id, action="delete")
