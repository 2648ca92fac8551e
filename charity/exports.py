"""Excel exports of the staff pages: a fund's ledger lines and donations, and the
disbursement list. Disbursements carry the need's public facts only, never the household."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from charity.models import Disbursement, Donation, Fund, Posting
from marketplace.exports import XLSX_TYPE, xlsx_cell, xlsx_response


def _workbook_response(
    *, filename: str, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]
) -> HttpResponse:
    """A workbook of several sheets (title, headers, rows) as a download, row by row."""
    book = Workbook(write_only=True)
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title=str(title)[:31])
        sheet.append([str(h) for h in headers])
        for row in rows:
            sheet.append([xlsx_cell(v) for v in row])
    response = HttpResponse(content_type=XLSX_TYPE)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    book.save(response)
    return response


def _donor(donation: Donation) -> str:
    if donation.donor_kind == Donation.DonorKind.ANONYMOUS:
        return _("匿名")
    return donation.donor_name


def fund_ledger_export(
    *, fund: Fund, postings: Iterable[Posting], donations: Iterable[Donation]
) -> HttpResponse:
    """Two sheets: the fund's ledger lines (debit and credit) and its donations."""
    ledger_headers = [
        _("记账时间"),
        _("分录号"),
        _("类型"),
        _("摘要"),
        _("科目"),
        _("借方（元）"),
        _("贷方（元）"),
        _("记账人"),
    ]
    ledger_rows = (
        [
            p.transaction.created_at,
            p.transaction_id,
            p.transaction.get_kind_display(),
            p.transaction.memo,
            p.account.get_kind_display(),
            p.amount if p.amount > 0 else None,
            -p.amount if p.amount < 0 else None,
            str(p.transaction.created_by),
        ]
        for p in postings
    )
    donation_headers = [
        _("收据编号"),
        _("接收日期"),
        _("捐赠类型"),
        _("捐赠方类型"),
        _("捐赠方"),
        _("金额/估值（元）"),
        _("物资名称"),
        _("数量"),
        _("认捐服务"),
        _("指定项目"),
        _("状态"),
        _("退还原因"),
    ]
    donation_rows = (
        [
            d.receipt_no,
            d.received_on,
            d.get_kind_display(),
            d.get_donor_kind_display(),
            _donor(d),
            d.value,
            d.item,
            d.quantity,
            d.service_description,
            d.project.title if d.project_id else "",
            _("已退还") if d.refunded_at else _("有效"),
            d.refund_reason,
        ]
        for d in donations
    )
    return _workbook_response(
        filename=f"fund-{fund.code}-ledger",
        sheets=[
            (_("记账明细"), ledger_headers, ledger_rows),
            (_("捐赠明细"), donation_headers, donation_rows),
        ],
    )


def disbursement_export(disbursements: Iterable[Disbursement]) -> HttpResponse:
    """The filtered disbursement list (rows should come from `disbursement_list_for_user`)."""
    headers = [
        _("编号"),
        _("基金"),
        _("需求编号"),
        _("类别"),
        _("街道"),
        _("拨付类型"),
        _("金额/估值（元）"),
        _("物资名称"),
        _("数量"),
        _("用途"),
        _("状态"),
        _("所需审批人数"),
        _("已同意人数"),
        _("急难先行拨付"),
        _("补办审批期限"),
        _("补办逾期"),
        _("申请人"),
        _("申请时间"),
        _("拨付时间"),
    ]
    rows = (
        [
            d.pk,
            d.fund.name,
            d.need_id,
            d.category.name,
            d.street.name,
            d.get_kind_display(),
            d.amount,
            d.item,
            d.quantity,
            d.purpose,
            d.get_status_display(),
            d.required_approvals,
            sum(1 for a in d.approvals.all() if a.decision == "approve"),
            _("是") if d.emergency else "",
            d.regularise_by,
            _("是") if d.overdue or d.flagged_at else "",
            str(d.requested_by),
            d.requested_at,
            d.paid_at,
        ]
        for d in disbursements
    )
    return xlsx_response(filename="disbursements", title=_("拨付明细"), headers=headers, rows=rows)
