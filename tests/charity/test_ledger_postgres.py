"""The ledger's guards in the database and under concurrency, on the real PostgreSQL: the
deferred balance trigger, postings that cannot be changed or deleted, payments racing for
the same money, and one idempotency key sent by many clients at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from charity.exceptions import InsufficientFunds
from charity.models import (
    Account,
    Disbursement,
    DisbursementApproval,
    Donation,
    Fund,
    Operation,
    Posting,
    Transaction,
)
from charity.selectors.audit import ledger_verify
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_request,
    reserve_advance,
)
from charity.services.donations import donation_record
from charity.services.ledger import fund_transfer
from marketplace.models import Need, Role
from tests import factories as f

# Transactional (the threads need committed rows); a flushed database is given back the
# service types its migration seeds, which the needs refer to.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


@pytest.fixture
def district(seeded, world):
    """The special fund holding 10,000.00 (one donation) and an empty reserve."""
    w = world
    w.official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.street_official = w.users[Role.STREET_OFFICIAL]
    w.special = f.fund(w.civil_affairs, Fund.Kind.SPECIAL, code="yaohai-yijia")
    w.reserve = f.fund(w.civil_affairs, Fund.Kind.RESERVE, code="reserve")
    donation_record(
        fund=w.special,
        by=w.official,
        idempotency_key=f.key(),
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="合肥某商贸公司",
        amount="10000.00",
    )
    return w


def account(fund: Fund, kind: str) -> Account:
    return Account.objects.get(fund=fund, kind=kind)


def test_unbalanced_transaction_cannot_commit(district):
    cash = account(district.special, Account.Kind.CASH)
    before = (Transaction.objects.count(), Posting.objects.count())
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        txn = Transaction.objects.create(kind="transfer", memo="单边", created_by=district.official)
        Posting.objects.bulk_create([Posting(transaction=txn, account=cash, amount=10)])
        # Accepted so far: the check is deferred to the commit.
    assert (Transaction.objects.count(), Posting.objects.count()) == before


def test_unbalanced_transaction_refused_when_checked_immediately(district):
    cash = account(district.special, Account.Kind.CASH)
    donations = account(district.special, Account.Kind.DONATIONS)
    before = (Transaction.objects.count(), Posting.objects.count())
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        txn = Transaction.objects.create(kind="transfer", memo="不平", created_by=district.official)
        Posting.objects.bulk_create(
            [
                Posting(transaction=txn, account=cash, amount=Decimal("10.00")),
                Posting(transaction=txn, account=donations, amount=Decimal("-9.99")),
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert (Transaction.objects.count(), Posting.objects.count()) == before


def test_balanced_transaction_written_directly_commits(district):
    cash = account(district.special, Account.Kind.CASH)
    donations = account(district.special, Account.Kind.DONATIONS)
    with transaction.atomic():
        txn = Transaction.objects.create(
            kind="donation", memo="直接写入", created_by=district.official
        )
        Posting.objects.bulk_create(
            [
                Posting(transaction=txn, account=cash, amount=Decimal("25.00")),
                Posting(transaction=txn, account=donations, amount=Decimal("-25.00")),
            ]
        )
    assert Posting.objects.filter(transaction=txn).count() == 2
    # The trigger guards the balance of the lines; the running balances are the service's
    # work, and the audit sees that nobody moved them.
    report = ledger_verify()
    assert report.unbalanced_transactions == ()
    assert set(report.balance_mismatches) == {cash.pk, donations.pk}


def test_postings_cannot_be_updated_or_deleted(district):
    lines = Posting.objects.filter(transaction__kind="donation")
    amounts = sorted(lines.values_list("pk", "amount"))
    with pytest.raises(IntegrityError, match="never changed"), transaction.atomic():
        lines.update(amount=F("amount") * 2)
    with pytest.raises(IntegrityError, match="never changed"), transaction.atomic():
        lines.delete()
    assert sorted(lines.values_list("pk", "amount")) == amounts
    assert ledger_verify().ok


def _race(work, items):
    """Run `work(item)` for every item on its own thread, all released together."""
    barrier = threading.Barrier(len(items))

    def run(item):
        try:
            barrier.wait(timeout=60)
            return work(item)
        except InsufficientFunds:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


class BalanceWatch:
    """Read a cash balance over and over on its own connection while a race runs."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self.seen: list[Decimal] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        try:
            while not self.stop.is_set():
                self.seen.append(Account.objects.get(pk=self.account_id).balance)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False


def test_concurrent_approvals_pay_only_what_the_fund_holds(district):
    """Twenty requests of 1,000.00 (each within the fund's balance when asked) approved at
    the same moment against 10,000.00: ten are paid, ten refused, the fund ends at 0.00."""
    w = district
    need = f.money_need(w, "100000.00")
    requests = [
        disbursement_request(
            fund=w.special,
            need=need,
            by=w.street_official,
            kind="funds",
            amount="1000.00",
            purpose="大病住院后临时生活救助",
            idempotency_key=f.key(),
        )
        for _ in range(THREADS)
    ]
    cash = account(w.special, Account.Kind.CASH)

    def approve(disbursement):
        disbursement_approve(disbursement=disbursement, by=w.official, idempotency_key=f.key())
        return "paid"

    with BalanceWatch(cash.pk) as watch:
        outcomes = _race(approve, requests)

    assert outcomes.count("paid") == 10
    assert outcomes.count("refused") == 10
    cash.refresh_from_db()
    assert cash.balance == Decimal("0.00")
    assert account(w.special, Account.Kind.PAID_OUT).balance == Decimal("10000.00")
    assert watch.seen and min(watch.seen) >= 0
    statuses = Disbursement.objects.filter(fund=w.special).values_list("status", flat=True)
    assert sorted(statuses) == ["paid"] * 10 + ["pending"] * 10
    # A refused payment keeps no approval: the request can be approved once money arrives.
    assert DisbursementApproval.objects.count() == 10
    assert ledger_verify().ok
    print(
        f"\nconcurrent approvals: {THREADS} × 1000.00 against 10000.00 → "
        f"paid {outcomes.count('paid')}, refused {outcomes.count('refused')}, "
        f"balance {cash.balance}, lowest balance seen {min(watch.seen)} "
        f"over {len(watch.seen)} reads"
    )


def test_concurrent_emergency_payments_from_the_reserve(district):
    w = district
    fund_transfer(
        source=w.special,
        target=w.reserve,
        amount="10000.00",
        by=w.official,
        memo="补充备用金",
        idempotency_key=f.key(),
    )
    need = f.money_need(w, "1000000.00", urgency=Need.Urgency.EMERGENCY)

    def advance(_):
        reserve_advance(
            need=need,
            by=w.street_official,
            amount="1000.00",
            purpose="突发火灾后基本生活救助",
            idempotency_key=f.key(),
        )
        return "paid"

    outcomes = _race(advance, list(range(THREADS)))
    assert outcomes.count("paid") == 10
    assert outcomes.count("refused") == 10
    assert account(w.reserve, Account.Kind.CASH).balance == Decimal("0.00")
    assert Disbursement.objects.filter(fund=w.reserve, status="paid").count() == 10
    assert ledger_verify().ok


def test_one_key_from_ten_clients_records_one_donation(district):
    w = district
    key = f.key()
    before = {
        "donations": Donation.objects.count(),
        "transactions": Transaction.objects.count(),
        "operations": Operation.objects.count(),
    }

    def give(_):
        return donation_record(
            fund=w.special,
            by=w.official,
            idempotency_key=key,
            kind=Donation.Kind.MONEY,
            donor_kind=Donation.DonorKind.PERSON,
            donor_name="李四",
            amount="500.00",
            received_on=date(2025, 3, 1),
        ).pk

    results = _race(give, list(range(10)))
    assert len(set(results)) == 1
    assert Donation.objects.count() == before["donations"] + 1
    assert Transaction.objects.count() == before["transactions"] + 1
    assert Operation.objects.count() == before["operations"] + 1
    assert Transaction.objects.filter(operation__key=key).count() == 1
    assert account(w.special, Account.Kind.CASH).balance == Decimal("10500.00")
    assert ledger_verify().ok
    print(f"\none key from 10 clients: {len(set(results))} donation, results {set(results)}")
