"""The review sample: at least 30% of the contract's delivery records (rounded up), drawn
only from that contract's records, without duplicates, and reproducible from the seed
stored on the review."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.models import DeliveryRecord, Role
from marketplace.selectors.contracts import review_redraw
from marketplace.services.contracts import review_draw, sample_draw, sample_size
from tests import procurement as P

RATES = st.integers(min_value=30, max_value=100).map(lambda n: Decimal(n) / 100)


@given(
    ids=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=200, unique=True),
    rate=RATES,
    seed=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_draw_properties(ids, rate, seed):
    size = sample_size(rate=rate, population=len(ids))
    assert size == math.ceil(rate * len(ids))
    assert size >= Decimal("0.30") * len(ids)
    drawn = sample_draw(seed=seed, record_ids=ids, size=size)
    assert len(drawn) == len(set(drawn)) == size
    assert set(drawn) <= set(ids)
    # The order the ids arrive in does not matter: only the seed and the population do.
    assert sample_draw(seed=seed, record_ids=list(reversed(ids)), size=size) == drawn


def _records(contract, n: int) -> list[DeliveryRecord]:
    milestone = contract.milestones.order_by("position").first()
    day = timezone.localdate() - timedelta(days=1)
    return DeliveryRecord.objects.bulk_create(
        [
            DeliveryRecord(
                milestone=milestone,
                units=Decimal("1"),
                delivered_on=day,
                source=DeliveryRecord.Source.AGENCY,
                description=f"探访{i}",
                entered_by=contract.agency.staff_user,
            )
            for i in range(n)
        ]
    )


@pytest.fixture
def two_contracts(world):
    first = P.contract(world, P.tender(world, state="closed").lots.get(), P.agency(world.street))
    second = P.contract(world, P.tender(world, state="closed").lots.get(), P.agency(world.street))
    return first, second


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(n=st.integers(min_value=1, max_value=40), other=st.integers(0, 10), rate=RATES)
def test_review_sample_from_contract_records(world, two_contracts, n, other, rate):
    contract, neighbour = two_contracts
    with transaction.atomic():
        mine = {r.pk for r in _records(contract, n)}
        _records(neighbour, other)
        review = review_draw(
            contract=contract,
            by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
            kind="midterm",
            rate=rate,
        )
        drawn = list(review.samples.values_list("record_id", flat=True))
        assert review.population == n
        assert review.sample_rate == rate
        assert len(drawn) == math.ceil(rate * n) >= Decimal("0.30") * n
        assert len(set(drawn)) == len(drawn)
        assert set(drawn) <= mine
        # Anyone can redraw it from the stored seed, even after more records arrive.
        _records(contract, 3)
        assert sorted(review_redraw(review=review)) == sorted(drawn)
        assert sorted(random_again(review, mine)) == sorted(drawn)
        transaction.set_rollback(True)


def random_again(review, ids) -> list[int]:
    import random

    k = math.ceil(review.sample_rate * len(ids))
    return random.Random(review.seed).sample(sorted(ids), k)  # noqa: S311


@pytest.mark.django_db
def test_seeds_differ_between_reviews(world, two_contracts):
    contract, _ = two_contracts
    _records(contract, 10)
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    mid = review_draw(contract=contract, by=official, kind="midterm")
    final = review_draw(contract=contract, by=official, kind="final")
    assert len(mid.seed) == 32 and mid.seed != final.seed
    assert mid.samples.count() == final.samples.count() == 3
