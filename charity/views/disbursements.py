"""Disbursement pages: asking a fund to pay a confirmed need, the list (with what waits for
the user's decision) and its export, one disbursement with its approvals, approving and
rejecting, and paying an emergency need first from the reserve."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from charity.exports import disbursement_export
from charity.filters_staff import DisbursementFilter
from charity.forms import ApproveForm, DisbursementForm, RejectForm, ReserveAdvanceForm
from charity.models import Disbursement, DisbursementApproval, Fund
from charity.selectors.funds import (
    disbursement_get_for_user,
    disbursement_list_for_user,
    fund_can_approve,
    fund_get_for_user,
    fund_reserve,
    may_request,
    need_choices_for_disbursement,
)
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_reject,
    disbursement_request,
    reserve_advance,
)
from charity.views.common import READER_ROLES, REFUSALS, RESERVE_ROLES, refusal
from marketplace.models import Need
from marketplace.selectors import need_get_for_user
from marketplace.web import filtered, page_of, require_role


@login_required
def disbursement_create_view(request, pk: int):
    """Ask the fund to pay a confirmed need; one or two approvals follow, by the amount."""
    require_role(request, READER_ROLES)
    fund = fund_get_for_user(fund_id=pk, user=request.user)
    if not may_request(user=request.user, fund=fund):
        raise PermissionDenied(_("您不能向这个基金申请拨付。"))
    needs = need_choices_for_disbursement(user=request.user, fund=fund)
    context = {"fund": fund, "threshold": settings.CHARITY_DUAL_APPROVAL_THRESHOLD}
    if request.method != "POST":
        context["form"] = DisbursementForm(needs=needs)
        return render(request, "charity/disbursement_form.html", context)
    form = DisbursementForm(request.POST, needs=needs)
    context["form"] = form
    status = 400
    if form.is_valid():
        try:
            disbursement = disbursement_request(
                fund=fund, by=request.user, **form.service_arguments()
            )
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(
                request,
                _("拨付申请已提交，需要 %(n)s 人审批。") % {"n": disbursement.required_approvals},
            )
            return redirect(disbursement)
    return render(request, "charity/disbursement_form.html", context, status=status)


@login_required
@require_safe
def disbursement_list_view(request, export=False):
    """Disbursements the user may read, filtered; or the same rows as Excel."""
    require_role(request, READER_ROLES)
    filterset = DisbursementFilter(
        request.GET or None,
        queryset=disbursement_list_for_user(user=request.user),
        request=request,
    )
    queryset, status = filtered(filterset)
    if export and status == 200:
        return disbursement_export(queryset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "charity/disbursement_list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


def _require_decider(request, disbursement) -> None:
    """403 before reading the form for those who may never decide on this disbursement."""
    if not fund_can_approve(user=request.user, fund=disbursement.fund):
        raise PermissionDenied(_("您不能审批这个基金的拨付。"))
    if disbursement.requested_by_id == request.user.pk:
        raise PermissionDenied(_("申请人不能审批自己的申请，须由其他人审批。"))


def _detail_response(request, disbursement, *, status=200, approve_form=None, reject_form=None):
    user = request.user
    approvals = list(disbursement.approvals.all())
    decided = any(a.approver_id == user.pk for a in approvals)
    open_for_decision = (
        disbursement.status == Disbursement.Status.PENDING or disbursement.awaiting_regularisation
    )
    can_decide = (
        open_for_decision
        and not decided
        and disbursement.requested_by_id != user.pk
        and fund_can_approve(user=user, fund=disbursement.fund)
    )
    can_reject = can_decide and disbursement.status == Disbursement.Status.PENDING
    context = {
        "disbursement": disbursement,
        "need": disbursement.need,
        "approvals": approvals,
        "approved": sum(
            1 for a in approvals if a.decision == DisbursementApproval.Decision.APPROVE
        ),
        "can_decide": can_decide,
        "can_reject": can_reject,
        "approve_form": approve_form or (ApproveForm() if can_decide else None),
        "reject_form": reject_form or (RejectForm() if can_reject else None),
    }
    return render(request, "charity/disbursement_detail.html", context, status=status)


@login_required
@require_safe
def disbursement_detail_view(request, pk: int):
    """One disbursement: the need's public facts, amount, approvals so far, status and, for
    an emergency payment, its deadline; approve and reject for those who may decide."""
    require_role(request, READER_ROLES)
    disbursement = disbursement_get_for_user(disbursement_id=pk, user=request.user)
    return _detail_response(request, disbursement)


@login_required
@require_POST
def disbursement_approve_view(request, pk: int):
    """Approve; the last required approval pays (or regularises an emergency payment)."""
    require_role(request, READER_ROLES)
    disbursement = disbursement_get_for_user(disbursement_id=pk, user=request.user)
    _require_decider(request, disbursement)
    form = ApproveForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            done = disbursement_approve(
                disbursement=disbursement,
                by=request.user,
                note=form.cleaned_data["note"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            if done.status == Disbursement.Status.PAID and done.paid_at and not done.emergency:
                messages.success(request, _("已同意，款物已从基金拨付。"))
            elif done.regularised_at:
                messages.success(request, _("已同意，这笔急难先行拨付已补办审批。"))
            else:
                messages.success(request, _("已同意，还需其他人审批。"))
            return redirect(done)
    return _detail_response(request, disbursement, status=status, approve_form=form)


@login_required
@require_POST
def disbursement_reject_view(request, pk: int):
    """Turn down a pending request, with the reason."""
    require_role(request, READER_ROLES)
    disbursement = disbursement_get_for_user(disbursement_id=pk, user=request.user)
    _require_decider(request, disbursement)
    form = RejectForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            disbursement_reject(
                disbursement=disbursement,
                by=request.user,
                reason=form.cleaned_data["reason"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(request, _("已驳回这笔拨付申请。"))
            return redirect(disbursement)
    return _detail_response(request, disbursement, status=status, reject_form=form)


@login_required
def reserve_advance_view(request, need_id: int):
    """Pay an emergency need at once from the reserve (street officials of the need's
    street, civil affairs); the payment is approved afterwards within the deadline."""
    require_role(request, RESERVE_ROLES, _("只有街道干部和民政干部可以从备用金先行拨付。"))
    need = need_get_for_user(need_id=need_id, user=request.user)
    try:
        reserve = fund_reserve()
    except Fund.DoesNotExist:
        reserve = None
    context = {
        "need": need,
        "reserve": reserve,
        "emergency": need.urgency == Need.Urgency.EMERGENCY,
        "days": settings.CHARITY_RESERVE_REGULARISE_DAYS,
    }
    if request.method != "POST":
        context["form"] = ReserveAdvanceForm(need=need)
        return render(request, "charity/reserve_advance_form.html", context)
    form = ReserveAdvanceForm(request.POST, need=need)
    context["form"] = form
    status = 400
    if reserve is None:
        form.add_error(None, _("尚未设立备用金，请联系区民政局。"))
    elif form.is_valid():
        try:
            disbursement = reserve_advance(need=need, by=request.user, **form.service_arguments())
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(
                request,
                _("已从备用金先行拨付，请在 %(date)s 前完成补办审批。")
                % {"date": timezone.localtime(disbursement.regularise_by).strftime("%Y-%m-%d")},
            )
            return redirect(disbursement)
    return render(request, "charity/reserve_advance_form.html", context, status=status)
