"""Celery tasks of the shared domain: thin wrappers that re-fetch by id and own retries."""

from smtplib import SMTPException

from celery import shared_task


@shared_task(bind=True, acks_late=True, max_retries=5)
def organisation_verified_notify(self, organisation_id: int) -> int:
    """Tell an organisation's members by mail that it has been verified."""
    from marketplace.services import organisation_verified_notify as notify

    try:
        return notify(organisation_id=organisation_id)
    except (SMTPException, OSError) as exc:
        raise self.retry(exc=exc, countdown=60) from exc


@shared_task(acks_late=True)
def emergency_escalate() -> int:
    """Every few minutes (beat): send overdue emergency needs to the street, then the
    district. Idempotent: each level happens once per need."""
    from marketplace.services import need_escalate_overdue

    return need_escalate_overdue()


@shared_task(acks_late=True)
def monitoring_scan() -> int:
    """Daily (beat): run the monitoring rules and write new warnings, deduplicated."""
    from marketplace.services import monitoring_scan as scan

    return scan()


@shared_task(acks_late=True)
def tender_open_due() -> int:
    """Every minute (beat): open the bids of every tender whose window has closed, so bids
    are readable for evaluation without anyone pressing a button. Idempotent."""
    from marketplace.services.tenders import tender_open_due as open_due

    return open_due()


@shared_task(acks_late=True)
def award_finalise_due() -> int:
    """Every ten minutes (beat): make final the awards whose standstill is over with no
    complaint left open. Idempotent."""
    from marketplace.services.evaluation import award_finalise_due as finalise_due

    return finalise_due()
