"""The charity demo: what `seed_demo` leaves for the journey of the issue, balanced to the
cent, and nothing added by a second run."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from charity.models import Account, Disbursement, Donation, Fund, ProjectPage, Transaction

pytestmark = pytest.mark.django_db


def test_demo_funds_balance_to_the_cent_and_wait_for_the_journey():
    call_command("seed_demo", size="small", verbosity=0)
    special = Fund.objects.get(code="yaohai-yijia")
    balances = {(a.fund.code, a.kind): a.balance for a in Account.objects.select_related("fund")}
    assert balances["yaohai-yijia", "cash"] == Decimal("76700.00")
    assert balances["yaohai-yijia", "goods"] == Decimal("29000.00")
    assert balances["reserve", "cash"] == Decimal("17000.00")
    assert balances["cishan-zhucan", "cash"] == Decimal("11600.00")
    for txn in Transaction.objects.all():
        assert txn.postings.aggregate(s=Sum("amount"))["s"] == 0
    # The project is published through the review workflow and took one beneficiary.
    project = ProjectPage.objects.get(title="困难老人助餐与临时生活补助项目")
    assert project.live and project.funds.get().code == "cishan-zhucan"
    assert project.places_taken == 1 and project.open_capacity == 39
    # 8,000 yuan waits for two approvers; an emergency waits to be regularised.
    waiting = Disbursement.objects.get(status=Disbursement.Status.PENDING)
    assert waiting.fund == special and waiting.required_approvals == 2
    assert waiting.requested_by.username == "jiedao" and not waiting.approvals.exists()
    emergency = Disbursement.objects.get(emergency=True)
    assert emergency.awaiting_regularisation and not emergency.overdue
    assert Donation.objects.filter(kind=Donation.Kind.SERVICE).count() == 1
    paid_months = {
        d.paid_at.month
        for d in Disbursement.objects.filter(emergency=False).exclude(
            status=Disbursement.Status.PENDING
        )
    }
    assert len(paid_months) >= 5

    counts = (Transaction.objects.count(), Donation.objects.count(), Fund.objects.count())
    call_command("seed_demo", size="small", verbosity=0)
    assert (Transaction.objects.count(), Donation.objects.count(), Fund.objects.count()) == counts
