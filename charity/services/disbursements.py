"""Money and goods out to approved needs: request, one or two approvals, payment; emergency
payment first from the reserve and its regularisation afterwards; flags for the overdue."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from charity.exceptions import (
    DuplicateApproval,
    InsufficientFunds,
    InvalidState,
    LedgerError,
    NotPermitted,
)
from charity.models import (
    Account,
    Disbursement,
    DisbursementApproval,
    Fund,
    ProjectPage,
    Transaction,
)
from charity.selectors.funds import (
    APPROVED_NEED_STATUSES,
    fund_can_approve,
    fund_can_request_for,
    fund_reserve,
)
from charity.services.ledger import money, operation_claim, operation_done, transaction_post
from marketplace.models import Need, Role, User
from marketplace.selectors import user_scope

# An emergency may be paid from the reserve before the street has confirmed it.
EMERGENCY_PAYABLE_STATUSES = APPROVED_NEED_STATUSES | {Need.Status.SUBMITTED}


def _check_need(*, need: Need, kind: str, amount, statuses) -> None:
    if need.status not in statuses:
        raise InvalidState(
            _("只能向已经街道确认的需求拨付（当前状态：%(status)s）。")
            % {"status": need.get_status_display()}
        )
    expected = {Disbursement.Kind.FUNDS: Need.Kind.FUNDS, Disbursement.Kind.GOODS: Need.Kind.GOODS}
    if expected.get(kind) != need.kind:
        raise LedgerError(
            _("拨付类型与需求类型不符：该需求需要%(kind)s。") % {"kind": need.get_kind_display()},
            code="kind_mismatch",
        )
    if kind == Disbursement.Kind.FUNDS and need.amount is not None:
        committed = (
            Disbursement.objects.filter(need=need)
            .exclude(status=Disbursement.Status.REJECTED)
            .aggregate(total=Sum("amount"))["total"]
            or 0
        )
        if committed + amount > need.amount:
            raise LedgerError(
                _("超过需求金额：需求 %(need)s 元，已安排 %(done)s 元。")
                % {"need": need.amount, "done": committed},
                code="over_need",
            )


def _check_available(*, fund: Fund, kind: str, amount) -> None:
    account_kind = Account.Kind.CASH if kind == Disbursement.Kind.FUNDS else Account.Kind.GOODS
    available = Account.objects.get(fund=fund, kind=account_kind).balance
    if amount > available:
        raise InsufficientFunds(
            _("%(fund)s余额不足：可用 %(available)s 元，本次需 %(needed)s 元。")
            % {"fund": fund.name, "available": available, "needed": amount}
        )


def _pay(*, disbursement: Disbursement, by: User, operation) -> None:
    """Post the payment: the fund's cash (or goods) goes to its paid-out account."""
    fund = disbursement.fund
    accounts = {a.kind: a for a in Account.objects.filter(fund=fund)}
    source = (
        accounts[Account.Kind.CASH]
        if disbursement.kind == Disbursement.Kind.FUNDS
        else accounts[Account.Kind.GOODS]
    )
    disbursement.transaction = transaction_post(
        kind=Transaction.Kind.DISBURSEMENT,
        lines=[
            (accounts[Account.Kind.PAID_OUT], disbursement.amount),
            (source, -disbursement.amount),
        ],
        memo=str(_("拨付 需求#%(need)s") % {"need": disbursement.need_id}),
        by=by,
        operation=operation,
    )
    disbursement.status = Disbursement.Status.PAID
    disbursement.paid_at = timezone.now()
    if fund.project_id:
        # A project takes a beneficiary the first time one of its funds pays the need.
        earlier = Disbursement.objects.filter(
            need_id=disbursement.need_id,
            fund__project_id=fund.project_id,
            status=Disbursement.Status.PAID,
        ).exclude(pk=disbursement.pk)
        if not earlier.exists():
            ProjectPage.objects.filter(pk=fund.project_id).update(
                places_taken=F("places_taken") + 1
            )


def _goods_fields(*, kind: str, item: str, quantity) -> tuple[str, int | None]:
    if kind != Disbursement.Kind.GOODS:
        return "", None
    if not item.strip():
        raise LedgerError(_("物资拨付须填写物资名称。"), code="item_required")
    if not quantity or int(quantity) < 1:
        raise LedgerError(_("物资拨付须填写数量。"), code="quantity_required")
    return item.strip(), int(quantity)


@transaction.atomic
def disbursement_request(
    *,
    fund: Fund,
    need: Need,
    by: User,
    kind: str,
    amount,
    purpose: str,
    idempotency_key: str,
    item: str = "",
    quantity: int | None = None,
) -> Disbursement:
    """Ask a fund to pay a confirmed need. Above the threshold two approvers must agree,
    otherwise one; the person asking never approves their own request."""
    if fund.kind == Fund.Kind.RESERVE:
        raise LedgerError(_("备用金只用于急难先行拨付。"), code="reserve")
    if not fund_can_request_for(user=by, fund=fund, need=need):
        raise NotPermitted()
    amount = money(amount)
    item, quantity = _goods_fields(kind=kind, item=item, quantity=quantity)
    if not purpose.strip():
        raise LedgerError(_("请写明用途（会公开显示，不要写个人信息）。"), code="purpose_required")
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="disbursement_request",
        payload={
            "fund": fund.pk,
            "need": need.pk,
            "kind": kind,
            "amount": amount,
            "item": item,
            "quantity": quantity,
            "purpose": purpose.strip(),
        },
        by=by,
    )
    if replay is not None:
        return Disbursement.objects.get(pk=replay)
    need = Need.objects.select_for_update().get(pk=need.pk)
    _check_need(need=need, kind=kind, amount=amount, statuses=APPROVED_NEED_STATUSES)
    _check_available(fund=fund, kind=kind, amount=amount)
    disbursement = Disbursement(
        fund=fund,
        need=need,
        kind=kind,
        amount=amount,
        item=item,
        quantity=quantity,
        category_id=need.service_type_id,
        street_id=need.street_id,
        purpose=purpose.strip()[:200],
        required_approvals=Disbursement.approvals_needed_for(amount),
        requested_by=by,
    )
    disbursement.full_clean()
    disbursement.save()
    operation_done(operation=operation, result_id=disbursement.pk)
    return disbursement


@transaction.atomic
def disbursement_approve(
    *, disbursement: Disbursement, by: User, idempotency_key: str, note: str = ""
) -> Disbursement:
    """Record one approval. When the last required approval arrives a pending request is
    paid (refused, and nothing recorded, if the fund no longer holds enough); for an
    emergency payment from the reserve it completes the regularisation."""
    locked = Disbursement.objects.select_for_update().select_related("fund", "need")
    disbursement = locked.get(pk=disbursement.pk)
    if disbursement.requested_by_id == by.pk:
        raise NotPermitted(_("申请人不能审批自己的申请，须由其他人审批。"))
    if not fund_can_approve(user=by, fund=disbursement.fund):
        raise NotPermitted()
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="disbursement_approve",
        payload={"disbursement": disbursement.pk, "note": note.strip()},
        by=by,
    )
    if replay is not None:
        return Disbursement.objects.get(pk=replay)
    pending = disbursement.status == Disbursement.Status.PENDING
    if not (pending or disbursement.awaiting_regularisation):
        raise InvalidState(_("这笔拨付已经处理完毕，不需要再审批。"))
    if disbursement.approvals.filter(approver=by).exists():
        raise DuplicateApproval()
    DisbursementApproval.objects.create(
        disbursement=disbursement,
        approver=by,
        decision=DisbursementApproval.Decision.APPROVE,
        note=note.strip()[:200],
    )
    approvals = disbursement.approvals.filter(
        decision=DisbursementApproval.Decision.APPROVE
    ).count()
    if approvals >= disbursement.required_approvals:
        if disbursement.status == Disbursement.Status.PENDING:
            _pay(disbursement=disbursement, by=by, operation=operation)
        else:
            disbursement.regularised_at = timezone.now()
            disbursement.flagged_at = None
        disbursement.save()
    operation_done(operation=operation, result_id=disbursement.pk)
    return disbursement


@transaction.atomic
def disbursement_reject(
    *, disbursement: Disbursement, by: User, reason: str, idempotency_key: str
) -> Disbursement:
    """Turn down a pending request with a reason. Nothing was paid, so nothing is posted."""
    locked = Disbursement.objects.select_for_update().select_related("fund")
    disbursement = locked.get(pk=disbursement.pk)
    if disbursement.requested_by_id == by.pk:
        raise NotPermitted(_("申请人不能审批自己的申请，须由其他人审批。"))
    if not fund_can_approve(user=by, fund=disbursement.fund):
        raise NotPermitted()
    if not reason.strip():
        raise LedgerError(_("请写明驳回原因。"), code="reason_required")
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="disbursement_reject",
        payload={"disbursement": disbursement.pk, "reason": reason.strip()},
        by=by,
    )
    if replay is not None:
        return Disbursement.objects.get(pk=replay)
    if disbursement.status != Disbursement.Status.PENDING:
        raise InvalidState(_("只能驳回待审批的申请。"))
    if disbursement.approvals.filter(approver=by).exists():
        raise DuplicateApproval()
    DisbursementApproval.objects.create(
        disbursement=disbursement,
        approver=by,
        decision=DisbursementApproval.Decision.REJECT,
        note=reason.strip()[:200],
    )
    disbursement.status = Disbursement.Status.REJECTED
    disbursement.rejection_reason = reason.strip()[:200]
    disbursement.save(update_fields=["status", "rejection_reason"])
    operation_done(operation=operation, result_id=disbursement.pk)
    return disbursement


@transaction.atomic
def reserve_advance(
    *,
    need: Need,
    by: User,
    amount,
    purpose: str,
    idempotency_key: str,
    kind: str = Disbursement.Kind.FUNDS,
    item: str = "",
    quantity: int | None = None,
) -> Disbursement:
    """Pay an emergency (急难) need at once from the reserve. The payment must then be
    approved afterwards, by as many approvers as a normal request of that amount, within
    `CHARITY_RESERVE_REGULARISE_DAYS`; otherwise it is flagged."""
    scope = user_scope(user=by)
    allowed = scope.has(Role.CIVIL_AFFAIRS_OFFICIAL) or (
        scope.has(Role.STREET_OFFICIAL) and need.street_id in scope.street_ids
    )
    if not allowed:
        raise NotPermitted()
    if need.urgency != Need.Urgency.EMERGENCY:
        raise LedgerError(_("只有急难需求可以从备用金先行拨付。"), code="not_emergency")
    amount = money(amount)
    item, quantity = _goods_fields(kind=kind, item=item, quantity=quantity)
    if not purpose.strip():
        raise LedgerError(_("请写明用途（会公开显示，不要写个人信息）。"), code="purpose_required")
    try:
        reserve = fund_reserve()
    except Fund.DoesNotExist:
        raise LedgerError(_("尚未设立临时救助备用金。"), code="no_reserve") from None
    operation, replay = operation_claim(
        key=idempotency_key,
        kind="reserve_advance",
        payload={
            "need": need.pk,
            "kind": kind,
            "amount": amount,
            "item": item,
            "quantity": quantity,
            "purpose": purpose.strip(),
        },
        by=by,
    )
    if replay is not None:
        return Disbursement.objects.get(pk=replay)
    need = Need.objects.select_for_update().get(pk=need.pk)
    _check_need(need=need, kind=kind, amount=amount, statuses=EMERGENCY_PAYABLE_STATUSES)
    disbursement = Disbursement(
        fund=reserve,
        need=need,
        kind=kind,
        amount=amount,
        item=item,
        quantity=quantity,
        category_id=need.service_type_id,
        street_id=need.street_id,
        purpose=purpose.strip()[:200],
        required_approvals=Disbursement.approvals_needed_for(amount),
        emergency=True,
        regularise_by=timezone.now() + timedelta(days=settings.CHARITY_RESERVE_REGULARISE_DAYS),
        requested_by=by,
    )
    disbursement.full_clean()
    _pay(disbursement=disbursement, by=by, operation=operation)
    disbursement.save()
    operation_done(operation=operation, result_id=disbursement.pk)
    return disbursement


def reserve_overdue_flag(*, now=None) -> int:
    """Flag emergency payments whose approval deadline passed without regularisation.
    Idempotent: a payment is flagged once. Returns how many were flagged now."""
    now = now or timezone.now()
    return Disbursement.objects.filter(
        emergency=True,
        status=Disbursement.Status.PAID,
        regularised_at__isnull=True,
        regularise_by__lt=now,
        flagged_at__isnull=True,
    ).update(flagged_at=now)
