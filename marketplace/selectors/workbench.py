"""The purchase-of-services numbers of the workbench: what waits for each role."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from marketplace.models import (
    Complaint,
    Contract,
    EvaluatorAssignment,
    Milestone,
    Organisation,
    Role,
    Tender,
    User,
)
from marketplace.selectors.directory import user_scope

BIDDING_KINDS = {Organisation.Kind.AGENCY, Organisation.Kind.SOCIAL_WORK_STATION}


def procurement_counts(*, user: User) -> dict[str, int]:
    """Counts for the procurement card: civil affairs (drafts, tenders waiting to be
    opened, milestones to accept, open complaints), agency staff of a verified agency
    (tenders open for bids, their live bids, active contracts) and evaluators (assignments
    waiting for a declaration or scores). Empty for everyone else."""
    scope = user_scope(user=user)
    now = timezone.now()
    counts: dict[str, int] = {}
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        counts["tenders_draft"] = Tender.objects.filter(status=Tender.Status.DRAFT).count()
        counts["tenders_to_open"] = Tender.objects.filter(
            status=Tender.Status.PUBLISHED, bid_closes_at__lte=now
        ).count()
        counts["milestones_to_accept"] = Milestone.objects.filter(
            status=Milestone.Status.SUBMITTED
        ).count()
        counts["complaints_open"] = Complaint.objects.filter(status=Complaint.Status.OPEN).count()
    agencies = [
        m.organisation_id
        for m in scope.memberships
        if m.role == Role.AGENCY_STAFF
        and m.organisation.verified
        and m.organisation.kind in BIDDING_KINDS
    ]
    if agencies:
        counts["tenders_open"] = Tender.objects.filter(
            status=Tender.Status.PUBLISHED, bid_opens_at__lte=now, bid_closes_at__gt=now
        ).count()
        counts["contracts_active"] = Contract.objects.filter(
            agency_id__in=agencies, status=Contract.Status.ACTIVE
        ).count()
    if scope.has(Role.EVALUATOR):
        counts["assignments_waiting"] = (
            EvaluatorAssignment.objects.filter(evaluator=user, tender__status=Tender.Status.OPENED)
            .filter(
                Q(declaration=EvaluatorAssignment.Declaration.PENDING)
                | Q(declaration=EvaluatorAssignment.Declaration.NO_CONFLICT)
            )
            .count()
        )
    return counts
