"""Excel exports of volunteers and their service records, for exchange with other volunteer
systems. Only masked ID numbers and phones leave the system, never a full value."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exports import xlsx_response
from volunteers.models import ServiceRecord, Volunteer


def service_record_export(
    *, volunteer: Volunteer, records: Iterable[ServiceRecord]
) -> HttpResponse:
    """One volunteer's service records: name, masked ID, organisation, activity, date,
    hours and status (records should come with opportunity and organisation loaded)."""
    headers = [
        _("姓名"),
        _("身份证号码"),
        _("服务组织"),
        _("活动名称"),
        _("服务日期"),
        _("服务时长（小时）"),
        _("状态"),
    ]
    rows = (
        [
            volunteer.real_name,
            volunteer.id_masked,
            r.opportunity.organisation.name,
            r.opportunity.title,
            timezone.localtime(r.checked_in_at).date(),
            r.hours,
            r.get_status_display(),
        ]
        for r in records
    )
    return xlsx_response(
        filename=f"service-records-{volunteer.pk}",
        title=_("志愿服务记录"),
        headers=headers,
        rows=rows,
    )


def volunteer_export(volunteers: Iterable[Volunteer]) -> HttpResponse:
    """The filtered volunteer roster (rows should carry `joined` and prefetched skills)."""
    headers = [
        _("编号"),
        _("姓名"),
        _("身份证号码"),
        _("手机号码"),
        _("街道"),
        _("社区"),
        _("技能"),
        _("所属组织"),
        _("星级"),
        _("已确认服务时长（小时）"),
        _("注册时间"),
    ]
    rows = (
        [
            v.pk,
            v.real_name,
            v.id_masked,
            v.phone_masked,
            v.street.name if v.street_id else "",
            v.home_community.name,
            "、".join(s.name for s in v.skills.all()),
            "、".join(a.organisation.name for a in getattr(v, "joined", [])),
            v.star_level,
            v.confirmed_hours,
            v.registered_at,
        ]
        for v in volunteers
    )
    return xlsx_response(filename="volunteers", title=_("志愿者名册"), headers=headers, rows=rows)
