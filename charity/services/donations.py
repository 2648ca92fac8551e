"""Donations in, and their refund by a reversing entry."""

from __future__ import annotations

import secrets
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from charity.exceptions import InvalidState, LedgerError, NotPermitted
from charity.models import Account, Donation, Fund, Transaction
from charity.selectors.funds import fund_can_manage
from charity.services.ledger import (
    money,
    operation_claim,
    operation_done,
    transaction_post,
    transaction_reverse,
)
from marketplace.models import User


def _receipt_no() -> str:
    return f"YH{timezone.localdate():%Y%m%d}{secrets.token_hex(4).upper()}"


@transaction.atomic
def donation_record(
    *,
    fund: Fund,
    by: User,
    idempotency_key: str,
    kind: str,
    donor_kind: str,
    donor_name: str = "",
    amount=None,
    item: str = "",
    quantity: int | None = None,
    unit: str = "",
    valuation=None,
    service_description: str = "",
    service_hours=None,
    project=None,
    received_on: date | None = None,
    note: str = "",
) -> Donation:
    """Record a donation received by a fund (or one of its projects) and give it a receipt
    number. Money enters the fund's cash, goods its goods account at their valuation; a
    service pledge is recorded without book value. A retry with the same key returns the
    first donation."""
    if not fund_can_manage(user=by, fund=fund):
        raise NotPermitted()
    if fund.kind == Fund.Kind.RESERVE:
        raise LedgerError(_("备用金不接受捐赠，请捐入瑶海益家专项基金。"), code="reserve")
    if kind == Donation.Kind.MONEY:
        if amount in (None, ""):
            raise LedgerError(_("资金捐赠须填写金额。"), code="amount_required")
        amount = money(amount)
    elif kind == Donation.Kind.GOODS:
        if valuation in (None, ""):
            raise LedgerError(_("物资捐赠须填写估值，才能入账和公示。"), code="valuation_required")
        valuation = money(valuation, label=_("估值"))
    if donor_kind == Donation.DonorKind.ANONYMOUS:
        donor_name = ""
    donation = Donation(
        fund=fund,
        project=project,
        kind=kind,
        amount=amount if kind == Donation.Kind.MONEY else None,
        item=item if kind == Donation.Kind.GOODS else "",
        quantity=quantity if kind == Donation.Kind.GOODS else None,
        unit=unit if kind == Donation.Kind.GOODS else "",
        valuation=valuation if kind == Donation.Kind.GOODS else None,
        service_description=service_description if kind == Donation.Kind.SERVICE else "",
        service_hours=service_hours if kind == Donation.Kind.SERVICE else None,
        donor_kind=donor_kind,
        donor_name=donor_name.strip(),
        received_on=received_on or timezone.localdate(),
        note=note,
        recorded_by=by,
        receipt_no=_receipt_no(),
    )
    donation.full_clean(exclude=["receipt_no"])
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="donation_record",
        payload={
            "fund": fund.pk,
            "project": getattr(project, "pk", None),
            "kind": kind,
            "amount": donation.amount,
            "item": donation.item,
            "quantity": donation.quantity,
            "valuation": donation.valuation,
            "service": donation.service_description,
            "donor_kind": donor_kind,
            "donor_name": donation.donor_name,
            "received_on": donation.received_on,
        },
        by=by,
    )
    if replay is not None:
        return Donation.objects.get(pk=replay)
    if donation.value is not None:
        account_kind = Account.Kind.CASH if kind == Donation.Kind.MONEY else Account.Kind.GOODS
        accounts = {a.kind: a for a in Account.objects.filter(fund=fund)}
        donation.transaction = transaction_post(
            kind=Transaction.Kind.DONATION,
            lines=[
                (accounts[account_kind], donation.value),
                (accounts[Account.Kind.DONATIONS], -donation.value),
            ],
            memo=str(_("捐赠入账 %(receipt)s") % {"receipt": donation.receipt_no}),
            by=by,
            operation=operation,
        )
    donation.save()
    operation_done(operation=operation, result_id=donation.pk)
    return donation


@transaction.atomic
def donation_refund(*, donation: Donation, by: User, reason: str, idempotency_key: str) -> Donation:
    """Give a donation back by reversing its entry. Refused if the fund no longer holds
    enough (it has been spent) or it was refunded before."""
    donation = Donation.objects.select_for_update().select_related("fund").get(pk=donation.pk)
    if not fund_can_manage(user=by, fund=donation.fund):
        raise NotPermitted()
    if not reason.strip():
        raise LedgerError(_("请写明退还原因。"), code="reason_required")
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="donation_refund",
        payload={"donation": donation.pk, "reason": reason.strip()},
        by=by,
    )
    if replay is not None:
        return Donation.objects.get(pk=replay)
    if donation.transaction_id is None:
        raise InvalidState(_("服务认捐没有入账，无需退还。"))
    if donation.refund_transaction_id is not None:
        raise InvalidState(_("这笔捐赠已经退还过。"))
    donation.refund_transaction = transaction_reverse(
        original=donation.transaction,
        by=by,
        memo=str(_("退还捐赠 %(receipt)s") % {"receipt": donation.receipt_no}),
        operation=operation,
    )
    donation.refund_reason = reason.strip()[:200]
    donation.refunded_at = timezone.now()
    donation.save(update_fields=["refund_transaction", "refund_reason", "refunded_at"])
    operation_done(operation=operation, result_id=donation.pk)
    return donation
