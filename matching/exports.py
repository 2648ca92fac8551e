"""Excel export of the proposal list. A need leaves the system with its public facts only
(service type, community, urgency, the de-identified description), never the household."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpResponse
from django.utils.translation import gettext as _

from marketplace.exports import xlsx_response
from matching.models import Proposal


def _providers(proposal: Proposal) -> str:
    return _("；").join(
        f"{item.get_role_display()} {item.provider_name}" for item in proposal.items.all()
    )


def proposal_export(proposals: Iterable[Proposal]) -> HttpResponse:
    """The filtered proposal list; `proposals` should carry their items (see selectors)."""
    headers = [
        _("方案编号"),
        _("匹配运行"),
        _("街道"),
        _("社区"),
        _("服务类型"),
        _("紧急程度"),
        _("公开描述"),
        _("已配名额"),
        _("所需名额"),
        _("方案代价"),
        _("跨街道"),
        _("审批层级"),
        _("状态"),
        _("服务方"),
        _("生成时间"),
        _("审批人"),
        _("审批时间"),
        _("审批意见"),
    ]
    rows = (
        [
            p.pk,
            p.run_id,
            p.street.name,
            p.need.community.name,
            p.need.service_type.name,
            p.need.get_urgency_display(),
            p.need.public_description,
            p.slots_filled,
            p.slots_wanted,
            p.cost,
            _("是") if p.cross_street else _("否"),
            p.get_level_display(),
            p.get_status_display(),
            _providers(p),
            p.created_at,
            str(p.decided_by) if p.decided_by_id else "",
            p.decided_at,
            p.decision_note,
        ]
        for p in proposals
    )
    return xlsx_response(filename="proposals", title=_("匹配方案"), headers=headers, rows=rows)
