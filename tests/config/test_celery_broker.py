"""A task scheduled by a service travels through the real Redis broker to a worker."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from config.celery import app
from marketplace.models import Role
from marketplace.services import organisation_verify


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_verify_task_runs_on_a_worker_through_redis(world, settings):
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            organisation_verify(
                organisation=world.pending_in_street,
                verified_by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
            )
            result = None
            for _ in range(100):
                if mail.outbox:
                    result = mail.outbox[0]
                    break
                import time

                time.sleep(0.1)
    finally:
        app.conf.task_always_eager = True
    assert result is not None, "the worker did not run the task"
    assert result.to == ["xinsheli@example.test"]
