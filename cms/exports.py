"""The disclosure as an Excel workbook: the figures and rows the public page shows, one sheet
each, amounts as numbers with two decimals. Nothing beyond the page leaves the system."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from charity.selectors.disclosure import Disclosure
from marketplace.exports import XLSX_TYPE
from marketplace.exports import xlsx_cell as cell_value

MONEY_FORMAT = "0.00"


def _sheet(
    book: Workbook,
    *,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    money: Iterable[int] = (),
) -> None:
    """Append one sheet; the columns numbered in `money` carry amounts (counts stay whole)."""
    sheet = book.create_sheet(title=title[:31])
    money = set(money)
    sheet.append([str(h) for h in headers])
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            value = cell_value(value)
            if index in money and isinstance(value, Decimal | float):
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = MONEY_FORMAT
            cells.append(value)
        sheet.append(cells)


def disclosure_export(*, disclosure: Disclosure, title: str, filename: str) -> HttpResponse:
    """The workbook: 概览, 月度收支, 按类别, 按街道, 拨付明细, 捐赠明细."""
    d = disclosure
    book = Workbook(write_only=True)
    _sheet(
        book,
        title=_("概览"),
        headers=[_("项目"), _("数值")],
        rows=[
            [_("公示对象"), title],
            [_("基金"), "、".join(f.name for f in d.funds)],
            [_("资金捐赠收入（元，已扣除退还）"), d.money_in],
            [_("已退还资金捐赠（元）"), d.money_refunded],
            [_("物资捐赠（估值，元）"), d.goods_in],
            [_("服务认捐（项）"), d.service_pledges],
            [_("服务认捐时长（小时）"), d.service_hours],
            [_("资金拨付（元）"), d.money_out],
            [_("物资拨付（估值，元）"), d.goods_out],
            [_("拨付笔数"), d.disbursement_count],
            [_("资金余额（元）"), d.cash_balance],
            [_("物资余额（估值，元）"), d.goods_balance],
            [_("导出时间"), timezone.now()],
        ],
        money=[1],
    )
    _sheet(
        book,
        title=_("月度收支"),
        headers=[
            _("月份"),
            _("资金收入（元）"),
            _("物资收入（估值，元）"),
            _("资金支出（元）"),
            _("物资支出（估值，元）"),
        ],
        rows=([m.label, m.money_in, m.goods_in, m.money_out, m.goods_out] for m in d.months),
        money=[1, 2, 3, 4],
    )
    for sheet_title, first, shares in (
        (_("按类别"), _("类别"), d.by_category),
        (_("按街道"), _("街道"), d.by_street),
    ):
        _sheet(
            book,
            title=sheet_title,
            headers=[first, _("笔数"), _("资金（元）"), _("物资（估值，元）"), _("合计（元）")],
            rows=([s.name, s.count, s.funds, s.goods, s.total] for s in shares),
            money=[2, 3, 4],
        )
    _sheet(
        book,
        title=_("拨付明细"),
        headers=[
            _("拨付日期"),
            _("类别"),
            _("街道"),
            _("拨付类型"),
            _("金额/估值（元）"),
            _("物资名称"),
            _("数量"),
            _("用途"),
        ],
        rows=(
            [r.paid_on, r.category, r.street, r.kind_label, r.amount, r.item, r.quantity, r.purpose]
            for r in d.disbursements
        ),
        money=[4],
    )
    _sheet(
        book,
        title=_("捐赠明细"),
        headers=[
            _("接收日期"),
            _("收据编号"),
            _("捐赠方"),
            _("捐赠类型"),
            _("金额/估值（元）"),
            _("物资名称"),
            _("数量"),
            _("单位"),
            _("认捐服务"),
            _("认捐时长（小时）"),
            _("已退还"),
        ],
        rows=(
            [
                r.received_on,
                r.receipt_no,
                r.donor,
                r.kind_label,
                r.value,
                r.item,
                r.quantity,
                r.unit,
                r.service_description,
                r.service_hours,
                _("是") if r.refunded else "",
            ]
            for r in d.donations
        ),
        money=[4],
    )
    response = HttpResponse(content_type=XLSX_TYPE)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
    book.save(response)
    return response
