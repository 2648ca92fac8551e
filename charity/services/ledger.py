"""The ledger's core: balanced postings under row locks, reversals, idempotency keys, and the
funds themselves. Every other charity service that moves money or goods comes through here."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from charity.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    LedgerError,
    NotPermitted,
    UnbalancedTransaction,
)
from charity.models import Account, Fund, Operation, Posting, Transaction
from charity.selectors.funds import fund_can_manage
from marketplace.models import Organisation, User

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("100000000")  # a hundred million yuan in one movement is a typing error
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


def money(value, *, label=None) -> Decimal:
    """A positive amount of yuan with at most two decimals, or `InvalidAmount` saying why."""
    name = label or _("金额")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidAmount(_("%(name)s必须是数字。") % {"name": name}) from None
    if not amount.is_finite():
        raise InvalidAmount(_("%(name)s必须是数字。") % {"name": name})
    if amount <= 0:
        raise InvalidAmount(_("%(name)s必须大于 0。") % {"name": name})
    if amount != amount.quantize(CENT):
        raise InvalidAmount(_("%(name)s最多两位小数（精确到分）。") % {"name": name})
    if amount > MAX_AMOUNT:
        raise InvalidAmount(_("%(name)s超出上限。") % {"name": name})
    return amount.quantize(CENT)


def fingerprint(payload: dict) -> str:
    """A stable digest of an operation's content, to tell a retry from a different request."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def operation_claim(
    *, key: str, kind: str, payload: dict, by: User
) -> tuple[Operation, int | None]:
    """Claim an idempotency key inside the caller's transaction.

    Returns the new operation and None for a first request, or the earlier operation and the
    id of what it made for a retry with the same content. A key used before for something
    else raises `IdempotencyConflict`. Two concurrent requests with one key: the second waits
    on the unique index until the first commits, then replays it."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise LedgerError(_("请求编号无效，请刷新页面后重新提交。"), code="invalid_key")
    digest = fingerprint({"kind": kind, **payload})
    try:
        with transaction.atomic():
            return (
                Operation.objects.create(key=key, kind=kind, fingerprint=digest, created_by=by),
                None,
            )
    except IntegrityError:
        existing = Operation.objects.get(key=key)
        if existing.kind != kind or existing.fingerprint != digest:
            raise IdempotencyConflict() from None
        return existing, existing.result_id


def operation_done(*, operation: Operation, result_id: int) -> None:
    """Remember what the operation made, so that a retry returns it."""
    operation.result_id = result_id
    operation.save(update_fields=["result_id"])


def transaction_post(
    *,
    kind: str,
    lines: Iterable[tuple[Account, Decimal]],
    memo: str,
    by: User,
    operation: Operation | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    """Write one balanced transaction and move the accounts' balances.

    Must run inside the caller's atomic block. Locks the touched accounts in primary-key order
    (every writer does, so two postings never deadlock), refuses any asset account going below
    zero, and never writes a line of zero."""
    lines = [(account, Decimal(amount)) for account, amount in lines]
    if len(lines) < 2 or any(amount == 0 for _a, amount in lines):
        raise UnbalancedTransaction()
    if sum(amount for _a, amount in lines) != 0:
        raise UnbalancedTransaction()
    net: dict[int, Decimal] = defaultdict(Decimal)
    for account, amount in lines:
        net[account.pk] += amount
    locked = {
        a.pk: a
        for a in Account.objects.select_for_update()
        .select_related("fund")
        .filter(pk__in=net)
        .order_by("pk")
    }
    for account_id, delta in net.items():
        account = locked[account_id]
        if account.kind in Account.ASSETS and account.balance + delta < 0:
            raise InsufficientFunds(
                _("%(fund)s的%(account)s不足：可用 %(available)s 元，本次需 %(needed)s 元。")
                % {
                    "fund": account.fund.name,
                    "account": account.get_kind_display(),
                    "available": account.balance,
                    "needed": -delta,
                }
            )
    txn = Transaction.objects.create(
        kind=kind, memo=memo[:200], created_by=by, operation=operation, reverses=reverses
    )
    Posting.objects.bulk_create(
        Posting(transaction=txn, account_id=account.pk, amount=amount) for account, amount in lines
    )
    # The new balance is computed here in decimal and written as a value: the rows are locked
    # (PostgreSQL) or the writer is alone (SQLite), and SQLite would add in floating point,
    # where 0.30 - 0.10 - 0.20 is a hair below zero and trips the check constraint.
    for account_id, delta in net.items():
        if delta:
            new_balance = locked[account_id].balance + delta
            Account.objects.filter(pk=account_id).update(balance=new_balance)
    return txn


def transaction_reverse(
    *, original: Transaction, by: User, memo: str, operation: Operation | None = None
) -> Transaction:
    """Cancel a transaction's effect with its mirror image; a transaction is reversed once."""
    if Transaction.objects.filter(reverses=original).exists():
        raise LedgerError(_("这笔分录已经冲正过。"), code="already_reversed")
    lines = [(p.account, -p.amount) for p in original.postings.select_related("account")]
    return transaction_post(
        kind=Transaction.Kind.REVERSAL,
        lines=lines,
        memo=memo,
        by=by,
        operation=operation,
        reverses=original,
    )


@transaction.atomic
def fund_create(
    *,
    organisation: Organisation,
    kind: str,
    name: str,
    code: str,
    by: User | None = None,
    project=None,
    description: str = "",
) -> Fund:
    """Open a fund with its four accounts. Civil affairs opens district funds; an
    organisation's staff open their own project or mutual-aid funds."""
    if by is not None:
        probe = Fund(organisation=organisation, kind=kind)
        if not fund_can_manage(user=by, fund=probe):
            raise NotPermitted()
    fund = Fund(
        organisation=organisation,
        kind=kind,
        name=name,
        code=code,
        project=project,
        description=description,
    )
    fund.full_clean()
    fund.save()
    Account.objects.bulk_create(Account(fund=fund, kind=k) for k in Account.Kind.values)
    return fund


@transaction.atomic
def fund_transfer(
    *,
    source: Fund,
    target: Fund,
    amount,
    by: User,
    memo: str,
    idempotency_key: str,
) -> Transaction:
    """Move money between two funds, e.g. to replenish the reserve from 瑶海益家. The person
    must manage the fund the money leaves."""
    if not fund_can_manage(user=by, fund=source):
        raise NotPermitted()
    if source.pk == target.pk:
        raise LedgerError(_("调出和调入不能是同一个基金。"), code="same_fund")
    amount = money(amount)
    memo = memo.strip()
    if not memo:
        raise LedgerError(_("请写明调拨事由。"), code="memo_required")
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="fund_transfer",
        payload={"source": source.pk, "target": target.pk, "amount": amount, "memo": memo},
        by=by,
    )
    if replay is not None:
        return Transaction.objects.get(pk=replay)
    lines = [
        (Account.objects.get(fund=source, kind=Account.Kind.CASH), -amount),
        (Account.objects.get(fund=target, kind=Account.Kind.CASH), amount),
    ]
    txn = transaction_post(
        kind=Transaction.Kind.TRANSFER, lines=lines, memo=memo, by=by, operation=operation
    )
    operation_done(operation=operation, result_id=txn.pk)
    return txn
