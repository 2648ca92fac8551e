"""Refusals of the ledger and the donation/disbursement flows. Nothing was written."""

from django.utils.translation import gettext_lazy as _

from marketplace.exceptions import DomainError, InvalidState, NotPermitted

__all__ = [
    "DomainError",
    "InvalidState",
    "NotPermitted",
    "LedgerError",
    "InvalidAmount",
    "InsufficientFunds",
    "IdempotencyConflict",
    "DuplicateApproval",
    "UnbalancedTransaction",
]


class LedgerError(DomainError):
    code = "ledger_error"
    default_message = _("记账未能完成，账目未改变。")


class InvalidAmount(LedgerError):
    code = "invalid_amount"
    default_message = _("金额须大于 0，且最多两位小数。")


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"
    default_message = _("基金余额不足。")


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"
    default_message = _("该请求编号已用于内容不同的操作，本次未记账。请刷新页面后重新提交。")


class DuplicateApproval(LedgerError):
    code = "duplicate_approval"
    default_message = _("您已审批过这笔拨付，同一人不能审批两次。")


class UnbalancedTransaction(LedgerError):
    code = "unbalanced"
    default_message = _("借贷不平衡，未记账。")
