"""A bid racing the opening, on the real PostgreSQL with row locks: submitted in one thread
at the moment of the close while another thread opens the tender, the bid is either refused
as late or included in the opening — never lost (committed but left sealed in an opened
tender) and never half-opened."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.exceptions import InvalidState
from marketplace.models import Bid, Lot, Tender
from marketplace.services.tenders import BidWindowClosed, tender_open
from tests import procurement as p
from tests.marketplace.test_tender_services import submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def _race(world, *, offset: float) -> dict:
    """One round: the bid is sent `offset` seconds after the close (negative: before);
    the opening is tried from the close on until it succeeds."""
    tender = p.tender(world)
    lot = tender.lots.get()
    org = p.agency(world.street)
    closes = timezone.now() + timedelta(seconds=0.4)
    Tender.objects.filter(pk=tender.pk).update(bid_closes_at=closes)
    outcome: dict = {}
    start = threading.Barrier(2)

    def wait_until(moment):
        delay = (moment - timezone.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)

    def bidder():
        try:
            start.wait()
            wait_until(closes + timedelta(seconds=offset))
            outcome["bid"] = submit(lot, org, price="30000.00").pk
        except BidWindowClosed:
            outcome["late"] = True
        except Exception as exc:  # reported to the main thread
            outcome["error"] = exc
        finally:
            connection.close()

    def opener():
        try:
            start.wait()
            wait_until(closes)
            while True:
                try:
                    tender_open(tender=tender)
                    return
                except InvalidState:
                    time.sleep(0.001)
        except Exception as exc:
            outcome["open_error"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=bidder), threading.Thread(target=opener)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert "error" not in outcome and "open_error" not in outcome, outcome
    tender.refresh_from_db()
    lot.refresh_from_db()
    outcome["tender"], outcome["lot"] = tender, lot
    return outcome


@pytest.mark.parametrize("offset", [-0.002, 0.0, 0.002])
def test_a_bid_racing_the_opening_is_refused_or_opened(seeded, world, offset):
    for _ in range(ROUNDS):
        outcome = _race(world, offset=offset)
        tender, lot = outcome["tender"], outcome["lot"]
        assert tender.status == Tender.Status.OPENED
        bids = list(Bid.objects.filter(lot=lot))
        if outcome.get("late"):
            assert bids == [] and lot.status == Lot.Status.FAILED
        else:
            (bid,) = bids
            assert bid.pk == outcome["bid"]
            assert bid.opened_at == tender.opened_at and bid.price == Decimal("30000.00")
            assert bid.team.count() == 2 and bid.plan_name == "方案.pdf"
            assert lot.status == Lot.Status.OPEN


def test_submissions_before_the_close_are_all_opened(seeded, world):
    """Many agencies bidding in the last instant: every committed bid is opened."""
    tender = p.tender(world)
    lot = tender.lots.get()
    orgs = [p.agency(world.street) for _ in range(6)]
    closes = timezone.now() + timedelta(seconds=0.5)
    Tender.objects.filter(pk=tender.pk).update(bid_closes_at=closes)
    start = threading.Barrier(len(orgs) + 1)
    results: list = []

    def bidder(org):
        try:
            start.wait()
            time.sleep(max(0.0, (closes - timezone.now()).total_seconds() - 0.01))
            results.append(submit(lot, org).pk)
        except BidWindowClosed:
            results.append(None)
        finally:
            connection.close()

    def opener():
        try:
            start.wait()
            time.sleep(max(0.0, (closes - timezone.now()).total_seconds()))
            while True:
                try:
                    tender_open(tender=tender)
                    return
                except InvalidState:
                    time.sleep(0.001)
        finally:
            connection.close()

    threads = [threading.Thread(target=bidder, args=(o,)) for o in orgs]
    threads.append(threading.Thread(target=opener))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    committed = {pk for pk in results if pk is not None}
    assert len(results) == len(orgs)
    assert set(Bid.objects.filter(lot=lot).values_list("pk", flat=True)) == committed
    assert all(b.opened_at is not None and b.price is not None for b in Bid.objects.filter(lot=lot))
