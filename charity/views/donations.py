"""Donation pages: recording a donation to a fund, its receipt, and its refund."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from charity.forms import DonationForm, RefundForm
from charity.selectors.funds import (
    donation_get_for_user,
    fund_can_manage,
    fund_get_for_user,
    may_record_donation,
)
from charity.services.donations import donation_record, donation_refund
from charity.views.common import READER_ROLES, REFUSALS, refusal
from marketplace.web import require_role


@login_required
def donation_create_view(request, pk: int):
    """Record money, goods or a pledged service given to the fund; then show the receipt.
    A double submit carries the same key and is recorded once."""
    require_role(request, READER_ROLES)
    fund = fund_get_for_user(fund_id=pk, user=request.user)
    if not may_record_donation(user=request.user, fund=fund):
        raise PermissionDenied(_("只有基金的管理组织可以登记捐赠；备用金不接受捐赠。"))
    if request.method != "POST":
        form = DonationForm(fund=fund)
        return render(request, "charity/donation_form.html", {"form": form, "fund": fund})
    form = DonationForm(request.POST, fund=fund)
    status = 400
    if form.is_valid():
        try:
            donation = donation_record(fund=fund, by=request.user, **form.service_arguments())
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(
                request, _("捐赠已登记，收据编号 %(no)s。") % {"no": donation.receipt_no}
            )
            return redirect("charity:donation-detail", pk=donation.pk)
    return render(
        request, "charity/donation_form.html", {"form": form, "fund": fund}, status=status
    )


def _detail_response(request, donation, *, refund_form=None, status=200):
    can_refund = (
        fund_can_manage(user=request.user, fund=donation.fund)
        and donation.transaction_id is not None
        and donation.refunded_at is None
    )
    context = {
        "donation": donation,
        "fund": donation.fund,
        "can_refund": can_refund,
        "refund_form": refund_form or (RefundForm() if can_refund else None),
    }
    return render(request, "charity/donation_detail.html", context, status=status)


@login_required
@require_safe
def donation_detail_view(request, pk: int):
    """The receipt of one donation (printable), and its refund for the fund's managers."""
    require_role(request, READER_ROLES)
    return _detail_response(request, donation_get_for_user(donation_id=pk, user=request.user))


@login_required
@require_POST
def donation_refund_view(request, pk: int):
    """Give a donation back by a reversing entry; refused once the money is spent."""
    require_role(request, READER_ROLES)
    donation = donation_get_for_user(donation_id=pk, user=request.user)
    if not fund_can_manage(user=request.user, fund=donation.fund):
        raise PermissionDenied(_("只有基金的管理组织可以退还捐赠。"))
    form = RefundForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            donation_refund(
                donation=donation,
                by=request.user,
                reason=form.cleaned_data["reason"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(request, _("捐赠已退还，账目已冲正。"))
            return redirect("charity:donation-detail", pk=donation.pk)
    return _detail_response(request, donation, refund_form=form, status=status)
