"""Celery tasks of search: each wraps one service and owns its retries."""

from celery import shared_task

from search.backends.base import SearchUnavailable


@shared_task(bind=True, acks_late=True, max_retries=3)
def search_outbox_drain(self) -> int:
    """Apply waiting outbox rows to the index (queued after every write that changes a
    searchable object, and every 30 seconds by beat). When the backend is down the rows stay
    and the task tries again with a growing delay; in-process mode (no worker, tasks run in
    the request) never waits: the next drain takes the rows."""
    from search.services import search_outbox_drain as drain

    report = drain()
    if report.unavailable and not self.request.is_eager:
        countdown = 30 * 2**self.request.retries
        raise self.retry(countdown=countdown, exc=SearchUnavailable("search backend unavailable"))
    return report.indexed + report.deleted


@shared_task(acks_late=True)
def search_reconcile() -> dict[str, int]:
    """Periodic (beat): compare the index's counts with the domain and schedule what is
    missing or extra. Skipped when the backend cannot be read; beat runs it again."""
    from search.services import search_reconcile as reconcile

    try:
        report = reconcile()
    except SearchUnavailable:
        return {}
    return {
        t: report.scheduled_index.get(t, 0) + report.scheduled_delete.get(t, 0)
        for t in report.expected
    }
