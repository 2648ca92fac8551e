"""The ledger's self-audit: figures that must hold whatever wrote the rows.

`ledger_verify` recomputes, in a handful of grouped queries, what the ledger service keeps
true on every write: each transaction's postings sum to zero over at least two lines, each
account's running balance equals the sum of its postings, no asset account (money or goods)
is below zero, and no idempotency key produced more than one transaction (every
money-moving operation — a donation, a refund, a payment, an emergency advance, a transfer —
posts exactly one). Amounts are in cents, so a difference under half a cent is the
floating-point noise of SQLite's sums, never a real imbalance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from charity.models import Account, Fund, Posting, Transaction

HALF_CENT = Decimal("0.005")


@dataclass(frozen=True)
class LedgerReport:
    """What `ledger_verify` found. Each tuple lists the offending ids (empty when sound)."""

    funds: int
    accounts: int
    transactions: int
    postings: int
    unbalanced_transactions: tuple[int, ...]
    balance_mismatches: tuple[int, ...]
    negative_assets: tuple[int, ...]
    repeated_operations: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions
            or self.balance_mismatches
            or self.negative_assets
            or self.repeated_operations
        )


def _off_by_cents(value) -> bool:
    return abs(value) >= HALF_CENT


def ledger_verify(*, fund: Fund | None = None) -> LedgerReport:
    """Audit the whole ledger, or only what touches one fund (its accounts, and every
    transaction with a line on them — checked over all its lines, including other funds').

    Six grouped queries whatever the ledger's size: transactions are summed in the database
    and only the faulty ones come back; accounts (four per fund) come back with their sums."""
    accounts = Account.objects.all()
    postings = Posting.objects.all()
    transactions = Transaction.objects.all()
    if fund is not None:
        accounts = accounts.filter(fund=fund)
        postings = postings.filter(account__fund=fund)
        transactions = transactions.filter(pk__in=postings.values("transaction_id"))

    unbalanced = (
        transactions.annotate(lines=Count("postings"), total=Sum("postings__amount"))
        .filter(Q(lines__lt=2) | Q(total__gte=HALF_CENT) | Q(total__lte=-HALF_CENT))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sums = list(
        accounts.annotate(total=Sum("postings__amount"))
        .order_by("pk")
        .values_list("pk", "kind", "balance", "total")
    )
    mismatched, negative = [], []
    for pk, kind, balance, total in sums:
        total = total or 0
        if _off_by_cents(balance - total):
            mismatched.append(pk)
        if kind in Account.ASSETS and (balance < 0 or total <= -HALF_CENT):
            negative.append(pk)
    repeated = (
        transactions.filter(operation__isnull=False)
        .values("operation_id")
        .annotate(made=Count("pk"))
        .filter(made__gt=1)
        .order_by("operation_id")
        .values_list("operation_id", flat=True)
    )
    lines = postings.aggregate(n=Count("pk"), transactions=Count("transaction", distinct=True))
    return LedgerReport(
        funds=1 if fund is not None else Fund.objects.count(),
        accounts=len(sums),
        transactions=lines["transactions"] if fund is not None else Transaction.objects.count(),
        postings=lines["n"],
        unbalanced_transactions=tuple(unbalanced),
        balance_mismatches=tuple(mismatched),
        negative_assets=tuple(negative),
        repeated_operations=tuple(repeated),
    )
