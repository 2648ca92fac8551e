"""The workbench's purchasing card: each role sees what waits for it, and only its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import EvaluatorAssignment, Role, Tender
from marketplace.selectors.workbench import procurement_counts
from tests import procurement as p

pytestmark = pytest.mark.django_db


def test_each_role_sees_its_own_card(world, client):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    bidding = p.tender(world, state="bidding")
    closed = p.tender(world, state="closed")
    p.tender(world, state="draft")
    agency = p.agency(world.street)
    expert = p.evaluator()
    Tender.objects.filter(pk=closed.pk).update(status=Tender.Status.OPENED)
    EvaluatorAssignment.objects.create(tender=closed, evaluator=expert, assigned_by=official)

    counts = procurement_counts(user=official)
    assert counts["tenders_draft"] == 1
    assert counts["tenders_to_open"] == 0
    Tender.objects.filter(pk=bidding.pk).update(bid_closes_at=timezone.now() - timedelta(seconds=1))
    assert procurement_counts(user=official)["tenders_to_open"] == 1
    assert procurement_counts(user=agency.staff_user)["tenders_open"] == 0
    assert procurement_counts(user=expert) == {"assignments_waiting": 1}
    assert procurement_counts(user=world.users[Role.STREET_OFFICIAL]) == {}

    cards = {
        official: "procurement-buyer",
        agency.staff_user: "procurement-agency",
        expert: "procurement-evaluator",
        world.users[Role.AUDITOR]: "procurement-audit",
    }
    for user, testid in cards.items():
        client.force_login(user)
        body = client.get(reverse("workbench")).content.decode()
        assert f'data-testid="{testid}"' in body, testid
        for other in set(cards.values()) - {testid}:
            assert f'data-testid="{other}"' not in body, (testid, other)
    client.force_login(world.users[Role.STREET_OFFICIAL])
    assert "procurement-" not in client.get(reverse("workbench")).content.decode()


def test_an_unverified_agency_sees_no_bidding_card(world, client):
    agency = p.agency(world.street, verified=False)
    assert procurement_counts(user=agency.staff_user) == {}
