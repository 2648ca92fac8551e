"""Celery tasks of matching: each wraps one service and owns its retries."""

from celery import shared_task


@shared_task(bind=True, acks_late=True, max_retries=3)
def match_run_execute(self, run_id: int) -> None:
    """Execute a queued run (re-fetches it; returns early if it is gone or already taken)."""
    from matching.services import match_run_execute as execute

    execute(run_id=run_id)


@shared_task(name="matching.tasks.emergency_match")
def emergency_match(need_id: int) -> None:
    """Match one emergency need at once, on its own."""
    from matching.services import match_emergency_start

    match_emergency_start(need_id=need_id)


@shared_task
def match_run_nightly() -> None:
    """The nightly district run (beat)."""
    from matching.services import match_run_nightly as nightly

    nightly()
