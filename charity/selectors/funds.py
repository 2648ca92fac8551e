"""Reads of funds, donations, disbursements and the ledger, scoped to the acting user.

Who may do what with a fund:
- manage (record donations, request and approve disbursements, transfer): staff of the
  organisation that holds the fund — civil affairs officials for the district's special fund
  and reserve, charity / mutual-aid / agency staff for their own funds;
- approve: its managers and district civil affairs officials, never the person who asked;
- read: its managers, civil affairs and auditors (all funds), street officials (the district
  funds their street draws on, and their own requests)."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from charity.models import Account, Disbursement, Donation, Fund, Posting
from marketplace.models import Need, Role, User
from marketplace.selectors import user_scope

MANAGER_ROLES = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.CHARITY_STAFF, Role.AGENCY_STAFF}
# Needs the street office has confirmed: only these may receive money or goods.
APPROVED_NEED_STATUSES = {
    Need.Status.CONFIRMED,
    Need.Status.OPEN,
    Need.Status.MATCHED,
    Need.Status.IN_PROGRESS,
}


def fund_can_manage(*, user: User, fund: Fund) -> bool:
    """Whether the user acts for the organisation holding the fund, in a managing role."""
    if not getattr(user, "is_authenticated", False):
        return False
    return any(
        m.organisation_id == fund.organisation_id and m.role in MANAGER_ROLES
        for m in user_scope(user=user).memberships
    )


def fund_can_approve(*, user: User, fund: Fund) -> bool:
    """Managers of the fund and district civil affairs may approve its disbursements."""
    return fund_can_manage(user=user, fund=fund) or user_scope(user=user).has(
        Role.CIVIL_AFFAIRS_OFFICIAL
    )


def fund_can_request_for(*, user: User, fund: Fund, need: Need) -> bool:
    """Managers ask for any need; a street official asks the district funds for needs of
    their own street."""
    if fund_can_manage(user=user, fund=fund):
        return True
    scope = user_scope(user=user)
    return (
        fund.kind in Fund.DISTRICT_KINDS
        and scope.has(Role.STREET_OFFICIAL)
        and need.street_id in scope.street_ids
    )


def may_record_donation(*, user: User, fund: Fund) -> bool:
    """Managers record donations; the reserve takes none (it is fed by transfers)."""
    return fund.kind != Fund.Kind.RESERVE and fund_can_manage(user=user, fund=fund)


def may_request(*, user: User, fund: Fund) -> bool:
    """Managers ask their fund to pay; street officials ask the district's special fund.
    The reserve pays only emergencies (see the reserve payment page)."""
    if fund.kind == Fund.Kind.RESERVE:
        return False
    if fund_can_manage(user=user, fund=fund):
        return True
    return fund.kind in Fund.DISTRICT_KINDS and user_scope(user=user).has(Role.STREET_OFFICIAL)


def may_export(*, user: User, fund: Fund) -> bool:
    """The ledger's export: the fund's managers, civil affairs and auditors."""
    return fund_can_manage(user=user, fund=fund) or user_scope(user=user).has(
        Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR
    )


def transfer_targets(*, user: User, source: Fund) -> QuerySet[Fund]:
    """Funds money may go to from `source`: those the user reads and the district's funds."""
    readable = fund_list_for_user(user=user).values("pk")
    return (
        Fund.objects.filter(Q(pk__in=readable) | Q(kind__in=Fund.DISTRICT_KINDS))
        .exclude(pk=source.pk)
        .order_by("kind", "name", "pk")
    )


def _with_accounts(qs: QuerySet[Fund]) -> QuerySet[Fund]:
    return qs.select_related("organisation", "project").prefetch_related(
        Prefetch("accounts", queryset=Account.objects.order_by("kind"))
    )


def fund_list_for_user(*, user: User) -> QuerySet[Fund]:
    """The funds the user may read in the staff pages."""
    scope = user_scope(user=user)
    qs = Fund.objects.all()
    if not scope.district_wide:
        managed = {m.organisation_id for m in scope.memberships if m.role in MANAGER_ROLES}
        condition = Q(organisation_id__in=managed)
        if scope.has(Role.STREET_OFFICIAL):
            condition |= Q(kind__in=Fund.DISTRICT_KINDS)
        qs = qs.filter(condition)
    return _with_accounts(qs)


def fund_get_for_user(*, fund_id: int, user: User) -> Fund:
    """One fund the user may read, or 404."""
    try:
        return fund_list_for_user(user=user).get(pk=fund_id)
    except Fund.DoesNotExist:
        raise Http404 from None


def fund_reserve() -> Fund:
    """The district's emergency reserve (备用金)."""
    return _with_accounts(Fund.objects.filter(kind=Fund.Kind.RESERVE)).get()


def donation_list_for_fund(*, fund: Fund) -> QuerySet[Donation]:
    return Donation.objects.filter(fund=fund).select_related("project", "recorded_by")


def donation_get_for_user(*, donation_id: int, user: User) -> Donation:
    """A donation of a fund the user manages or may read, or 404."""
    funds = fund_list_for_user(user=user).values("pk")
    try:
        return Donation.objects.select_related("fund", "project").get(
            pk=donation_id, fund__in=funds
        )
    except Donation.DoesNotExist:
        raise Http404 from None


def _disbursements() -> QuerySet[Disbursement]:
    return Disbursement.objects.select_related(
        "fund", "need", "category", "street", "requested_by"
    ).prefetch_related("approvals__approver")


def disbursement_list_for_user(*, user: User) -> QuerySet[Disbursement]:
    """Disbursements of funds the user may read, plus those the user asked for."""
    funds = fund_list_for_user(user=user).values("pk")
    return _disbursements().filter(Q(fund__in=funds) | Q(requested_by=user))


def disbursement_get_for_user(*, disbursement_id: int, user: User) -> Disbursement:
    try:
        return disbursement_list_for_user(user=user).get(pk=disbursement_id)
    except Disbursement.DoesNotExist:
        raise Http404 from None


def disbursement_awaiting(*, user: User) -> QuerySet[Disbursement]:
    """What waits for this user's decision: pending requests and emergency payments still to
    be regularised, on funds the user may approve, asked for by someone else, not yet
    decided by this user."""
    scope = user_scope(user=user)
    qs = disbursement_list_for_user(user=user).filter(
        Q(status=Disbursement.Status.PENDING)
        | Q(emergency=True, status=Disbursement.Status.PAID, regularised_at__isnull=True)
    )
    if not scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        managed = {m.organisation_id for m in scope.memberships if m.role in MANAGER_ROLES}
        qs = qs.filter(fund__organisation_id__in=managed)
    return qs.exclude(requested_by=user).exclude(approvals__approver=user)


def posting_list_for_fund(*, fund: Fund) -> QuerySet[Posting]:
    """The fund's ledger lines, newest first, with their transaction."""
    return (
        Posting.objects.filter(account__fund=fund)
        .select_related("transaction", "account", "transaction__created_by")
        .order_by("-transaction__created_at", "-pk")
    )


def need_choices_for_disbursement(*, user: User, fund: Fund) -> QuerySet[Need]:
    """Confirmed needs the user may ask this fund to pay (funds or goods needs)."""
    qs = Need.objects.filter(
        status__in=APPROVED_NEED_STATUSES, kind__in=[Need.Kind.FUNDS, Need.Kind.GOODS]
    ).select_related("service_type", "street", "community")
    if fund_can_manage(user=user, fund=fund):
        return qs
    scope = user_scope(user=user)
    return qs.filter(street_id__in=scope.street_ids)
