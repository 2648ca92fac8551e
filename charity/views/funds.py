"""Fund pages: the list with balances, one fund's books (donations, disbursements, ledger
lines), the ledger's Excel export and transfers between funds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from charity.exports import fund_ledger_export
from charity.filters_staff import FundFilter
from charity.forms import TransferForm
from charity.models import Account
from charity.selectors.funds import (
    disbursement_list_for_user,
    donation_list_for_fund,
    fund_can_manage,
    fund_get_for_user,
    fund_list_for_user,
    may_export,
    may_record_donation,
    may_request,
    posting_list_for_fund,
    transfer_targets,
)
from charity.services.ledger import fund_transfer
from charity.views.common import READER_ROLES, REFUSALS, refusal
from marketplace.web import filtered, page_of, require_role


@login_required
@require_safe
def fund_list_view(request):
    """The funds the user may read, with their cash and goods balances."""
    require_role(request, READER_ROLES)
    filterset = FundFilter(request.GET or None, queryset=fund_list_for_user(user=request.user))
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "charity/fund_list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


@login_required
@require_safe
def fund_detail_view(request, pk: int):
    """One fund: balances, totals in and out, its donations, disbursements and ledger lines
    (each paged), and the actions the user may take."""
    require_role(request, READER_ROLES)
    fund = fund_get_for_user(fund_id=pk, user=request.user)
    user = request.user
    donations, donations_query = page_of(
        request, donation_list_for_fund(fund=fund), param="donations"
    )
    disbursements, disbursements_query = page_of(
        request, disbursement_list_for_user(user=user).filter(fund=fund), param="disbursements"
    )
    lines, lines_query = page_of(request, posting_list_for_fund(fund=fund), param="lines")
    return render(
        request,
        "charity/fund_detail.html",
        {
            "fund": fund,
            "received": -fund.account(Account.Kind.DONATIONS).balance,
            "paid_out": fund.account(Account.Kind.PAID_OUT).balance,
            "donations": donations,
            "donations_query": donations_query,
            "disbursements": disbursements,
            "disbursements_query": disbursements_query,
            "lines": lines,
            "lines_query": lines_query,
            "can_donate": may_record_donation(user=user, fund=fund),
            "can_request": may_request(user=user, fund=fund),
            "can_transfer": fund_can_manage(user=user, fund=fund),
            "can_export": may_export(user=user, fund=fund),
        },
    )


@login_required
@require_safe
def fund_ledger_export_view(request, pk: int):
    """The fund's ledger lines and donations as Excel (managers, civil affairs, auditors)."""
    require_role(request, READER_ROLES)
    fund = fund_get_for_user(fund_id=pk, user=request.user)
    if not may_export(user=request.user, fund=fund):
        raise PermissionDenied(_("只有基金的管理组织、民政部门和审计可以导出账目。"))
    return fund_ledger_export(
        fund=fund,
        postings=posting_list_for_fund(fund=fund).iterator(chunk_size=500),
        donations=donation_list_for_fund(fund=fund),
    )


@login_required
def fund_transfer_view(request, pk: int):
    """Move money from this fund to another (e.g. replenish the reserve from 瑶海益家)."""
    require_role(request, READER_ROLES)
    fund = fund_get_for_user(fund_id=pk, user=request.user)
    if not fund_can_manage(user=request.user, fund=fund):
        raise PermissionDenied(_("只有基金的管理组织可以调出资金。"))
    targets = transfer_targets(user=request.user, source=fund)
    context = {"fund": fund}
    if request.method != "POST":
        context["form"] = TransferForm(targets=targets)
        return render(request, "charity/transfer_form.html", context)
    form = TransferForm(request.POST, targets=targets)
    context["form"] = form
    status = 400
    if form.is_valid():
        try:
            fund_transfer(source=fund, by=request.user, **form.service_arguments())
        except REFUSALS as exc:
            status = refusal(form, exc)
        else:
            messages.success(
                request,
                _("已从%(source)s调拨 %(amount)s 元到%(target)s。")
                % {
                    "source": fund.name,
                    "amount": form.cleaned_data["amount"],
                    "target": form.cleaned_data["target"].name,
                },
            )
            return redirect(fund)
    return render(request, "charity/transfer_form.html", context, status=status)
