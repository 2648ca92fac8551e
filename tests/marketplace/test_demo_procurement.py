"""The purchase-of-services demo: a year's live catalogue and three tenders at three stages
— contracted with delivered units and a drawn sample, opened and half evaluated with red
flags, bidding with a sealed bid — built through the services, and nothing added by a
second run."""

import math

import pytest
from django.core.management import call_command

from marketplace.models import (
    Bid,
    CatalogueItem,
    Contract,
    EvaluatorAssignment,
    Lot,
    PerformanceReview,
    Tender,
)
from marketplace.selectors.contracts import milestone_progress
from marketplace.selectors.evaluation import lot_ranking, tender_red_flags

pytestmark = pytest.mark.django_db


def _counts():
    return (
        CatalogueItem.objects.count(),
        Tender.objects.count(),
        Bid.objects.count(),
        Contract.objects.count(),
        PerformanceReview.objects.count(),
    )


def test_demo_walks_every_stage_and_is_idempotent():
    call_command("seed_demo", size="small", verbosity=0)
    assert CatalogueItem.objects.filter(live=True).count() == 7
    contracted, evaluating, bidding = Tender.objects.order_by("reference")

    # Contracted: a final award, a contract whose first milestone has 12 units delivered,
    # and a mid-term review that drew ceil(30%) of them.
    assert contracted.status == Tender.Status.COMPLETE
    contract = Contract.objects.get()
    assert contract.agency.name == "瑶海区阳光社会工作服务中心"
    first = milestone_progress(contract=contract)[0]
    assert first.delivered == 12
    review = contract.reviews.get()
    assert review.samples.count() == math.ceil(0.3 * 12)
    assert review.samples.filter(result="confirmed").count() == 2

    # Evaluating: opened, every bid qualified, one evaluator done and one not yet declared,
    # so the award waits; red flags for the shared representative and the single bidder.
    assert evaluating.status == Tender.Status.OPENED
    assert not Bid.objects.filter(lot__tender=evaluating, price__isnull=True).exists()
    declarations = dict(
        EvaluatorAssignment.objects.filter(tender=evaluating).values_list(
            "evaluator__username", "declaration"
        )
    )
    assert declarations == {"pingshen1": "no_conflict", "pingshen2": "pending"}
    first_lot = evaluating.lots.get(number=1)
    assert not lot_ranking(lot=first_lot).complete
    codes = {flag.code for flag in tender_red_flags(tender=evaluating)}
    assert {"SINGLE_BIDDER", "SHARED_REPRESENTATIVE"} <= {c.upper() for c in codes}

    # Bidding: window open, one sealed bid (no plain price), questions answered and waiting.
    assert bidding.window_open()
    sealed = Bid.objects.get(lot__tender=bidding)
    assert sealed.price is None and sealed.sealed and sealed.opened_at is None
    assert bidding.questions.exclude(answer="").count() == 1
    assert bidding.questions.filter(answer="").count() == 1
    assert Lot.objects.filter(tender=bidding, status=Lot.Status.OPEN).count() == 2

    before = _counts()
    call_command("seed_demo", size="small", verbosity=0)
    assert _counts() == before
