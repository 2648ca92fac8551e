"""Celery tasks of volunteering: thin wrappers that re-fetch by id and own retries."""

from celery import shared_task


@shared_task(acks_late=True)
def opportunity_remind() -> int:
    """Every ten minutes (beat): remind confirmed volunteers of opportunities starting within
    24 hours. Idempotent: each sign-up is reminded once."""
    from volunteers.services import opportunity_remind as remind

    return remind()


@shared_task(acks_late=True)
def opportunity_changed_notify(
    opportunity_id: int,
    change: str,
    reason: str = "",
    user_ids: list[int] | None = None,
) -> int:
    """Tell volunteers of a change, a cancellation or a move up from the waiting list. Not
    retried: the page notices went out, and a mailbox that failed is logged by the service."""
    from volunteers.services import opportunity_changed_notify as notify

    return notify(opportunity_id=opportunity_id, change=change, reason=reason, user_ids=user_ids)


@shared_task(acks_late=True)
def volunteer_star_notify(volunteer_id: int) -> int:
    """Congratulate a volunteer whose star level rose."""
    from volunteers.services import volunteer_star_notify as notify

    return notify(volunteer_id=volunteer_id)
