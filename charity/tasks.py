"""Periodic work of the funds: flag emergency payments not regularised in time."""

from celery import shared_task


@shared_task(acks_late=True)
def reserve_overdue_flag() -> int:
    """Beat, hourly: see `charity.services.disbursements.reserve_overdue_flag`."""
    from charity.services.disbursements import reserve_overdue_flag as flag

    return flag()
