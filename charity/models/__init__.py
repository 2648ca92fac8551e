"""Charity models, split by aggregate; import from here."""

from charity.models.flows import Disbursement, DisbursementApproval, Donation
from charity.models.ledger import Account, Fund, ImmutablePosting, Operation, Posting, Transaction
from charity.models.projects import ProjectPage

__all__ = [
    "Account",
    "Disbursement",
    "DisbursementApproval",
    "Donation",
    "Fund",
    "ImmutablePosting",
    "Operation",
    "Posting",
    "ProjectPage",
    "Transaction",
]
