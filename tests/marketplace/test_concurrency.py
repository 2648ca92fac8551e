"""Row locks under concurrency, on the real PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from marketplace.exceptions import InvalidState
from marketplace.models import Role
from marketplace.services import organisation_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_verifications_transition_once(world):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    org = world.charity_pending

    def attempt(_):
        try:
            organisation_verify(organisation=org, verified_by=official)
            return "ok"
        except InvalidState:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("refused") == 15
