"""Excel exports of the case and need lists. Only what the list pages show leaves the
system: masked ID numbers and phones, never the ciphertext or a revealed value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from marketplace.models import Case, Need

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A spreadsheet runs a cell starting with these as a formula: text typed by users must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def xlsx_cell(value):
    """A value as a spreadsheet cell: local naive times, text never run as a formula."""
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if value is None:
        return ""
    return value


def xlsx_response(
    *, filename: str, title: str, headers: Sequence[str], rows: Iterable[Sequence]
) -> HttpResponse:
    """A one-sheet workbook as a download, written row by row."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append([str(h) for h in headers])
    for row in rows:
        sheet.append([xlsx_cell(v) for v in row])
    response = HttpResponse(content_type=XLSX_TYPE)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    book.save(response)
    return response


def _head_id_masked(case: Case) -> str:
    heads = getattr(case, "heads", None)
    if heads is None:
        heads = [m for m in case.members.all() if m.relationship == "head"]
    return heads[0].id_masked if heads else ""


def case_export(cases: Iterable[Case]) -> HttpResponse:
    """The filtered case list; `cases` should carry `heads` (see views)."""
    headers = [
        _("编号"),
        _("户主姓名"),
        _("户主身份证号码"),
        _("联系电话"),
        _("街道"),
        _("社区"),
        _("救助类别"),
        _("家庭人口"),
        _("受理渠道"),
        _("状态"),
        _("核实期限"),
        _("登记时间"),
    ]
    rows = (
        [
            c.pk,
            c.head_name,
            _head_id_masked(c),
            c.phone_masked,
            c.street.name,
            c.community.name,
            c.get_category_display(),
            c.household_size,
            c.get_channel_display(),
            c.get_status_display(),
            c.verify_deadline,
            c.created_at,
        ]
        for c in cases
    )
    return xlsx_response(filename="cases", title=_("救助对象"), headers=headers, rows=rows)


def need_export(needs: Iterable[Need]) -> HttpResponse:
    """The filtered need list."""
    headers = [
        _("编号"),
        _("户主姓名"),
        _("联系电话"),
        _("街道"),
        _("社区"),
        _("需求类型"),
        _("服务类型"),
        _("金额（元）"),
        _("数量"),
        _("紧急程度"),
        _("状态"),
        _("受理渠道"),
        _("响应期限"),
        _("督办层级"),
        _("创建时间"),
    ]
    rows = (
        [
            n.pk,
            n.case.head_name,
            n.case.phone_masked,
            n.street.name,
            n.community.name,
            n.get_kind_display(),
            n.service_type.name,
            n.amount,
            n.quantity,
            n.get_urgency_display(),
            n.get_status_display(),
            n.get_channel_display(),
            n.response_deadline,
            n.escalation_level,
            n.created_at,
        ]
        for n in needs
    )
    return xlsx_response(filename="needs", title=_("需求"), headers=headers, rows=rows)
