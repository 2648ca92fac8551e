"""Writes of service hours: check-in and check-out with the rotating code, records added by
hand, confirmation and revocation, and the confirmed total and star level they add up to.

The check-in code is a 6-digit TOTP (RFC 6238) of the opportunity's secret, a new one every
30 seconds; one step either side is accepted, so a code shown on the organiser's phone lives
at most about a minute and a photo of it is useless later."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pyotp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.models import User
from volunteers.exceptions import CheckinCodeInvalid, InvalidState, NotPermitted
from volunteers.models import (
    Opportunity,
    ServiceRecord,
    Signup,
    TeamEvent,
    Volunteer,
    star_level_for,
)
from volunteers.selectors.opportunities import opportunity_is_organiser
from volunteers.services.opportunities import _tell
from volunteers.services.teams import team_event_record

__all__ = [
    "SERVICE_RECORD_FLAGS",
    "checkin_code_current",
    "hours_display",
    "service_record_add_manual",
    "service_record_check_in",
    "service_record_check_out",
    "service_record_confirm",
    "service_record_revoke",
    "volunteer_hours_refresh",
    "volunteer_star_notify",
]

CODE_INTERVAL_SECONDS = 30
CHECKIN_OPENS_BEFORE = timedelta(minutes=60)
MAX_HOURS = Decimal("24")
# Past these, a record is flagged for the confirmer's attention.
LONGER_THAN_SCHEDULED_BY = timedelta(hours=2)
LONGEST_PLAUSIBLE = timedelta(hours=12)
OFF_SCHEDULE_BY = timedelta(hours=2)

SERVICE_RECORD_FLAGS = {
    "too_long": gettext_lazy("时长异常（超过计划2小时以上或超过12小时）"),
    "overlap": gettext_lazy("与本人其他服务记录时间重叠"),
    "off_schedule": gettext_lazy("签到或签退时间与活动时间相差2小时以上"),
    "manual": gettext_lazy("组织方补录"),
}

_CODE = re.compile(r"\d{6}")


def hours_display(hours: Decimal) -> str:
    """Hours as people write them: 2, 2.5, 2.25 (no trailing zeros, no exponent)."""
    text = f"{hours:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _totp(opportunity: Opportunity) -> pyotp.TOTP:
    return pyotp.TOTP(opportunity.checkin_secret, interval=CODE_INTERVAL_SECONDS)


def checkin_code_current(*, opportunity: Opportunity, at: datetime | None = None) -> str:
    """The 6-digit check-in code of the opportunity at this moment (or at `at`)."""
    at = at or timezone.now()
    return _totp(opportunity).at(int(at.timestamp()))


def _verify_code(opportunity: Opportunity, code: str, at: datetime) -> None:
    code = (code or "").strip()
    if not _CODE.fullmatch(code) or not _totp(opportunity).verify(
        code, for_time=int(at.timestamp()), valid_window=1
    ):
        raise CheckinCodeInvalid()


def _hours(duration: timedelta) -> Decimal:
    """Duration in hours, to the nearest quarter hour, at most 24."""
    quarters = (Decimal(duration.total_seconds()) / Decimal(900)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return min(quarters * Decimal("0.25"), MAX_HOURS)


def _flags(record: ServiceRecord, opportunity: Opportunity) -> list[str]:
    """What looks abnormal about a finished record, as codes of `SERVICE_RECORD_FLAGS`."""
    start, end = record.checked_in_at, record.checked_out_at
    flags = []
    duration = end - start
    scheduled = opportunity.ends_at - opportunity.starts_at
    if duration > scheduled + LONGER_THAN_SCHEDULED_BY or duration > LONGEST_PLAUSIBLE:
        flags.append("too_long")
    overlapping = (
        ServiceRecord.objects.filter(volunteer_id=record.volunteer_id, checked_in_at__lt=end)
        .filter(Q(checked_out_at__gt=start) | Q(checked_out_at__isnull=True))
        .exclude(status=ServiceRecord.Status.REVOKED)
    )
    if record.pk:
        overlapping = overlapping.exclude(pk=record.pk)
    if overlapping.exists():
        flags.append("overlap")
    if abs(start - opportunity.starts_at) > OFF_SCHEDULE_BY or end > (
        opportunity.ends_at + OFF_SCHEDULE_BY
    ):
        flags.append("off_schedule")
    return flags


def _team_checkin_event(opportunity: Opportunity, volunteer: Volunteer, action: str, at) -> None:
    if opportunity.team_id is None:
        return
    team_event_record(
        team=opportunity.team,
        kind=TeamEvent.Kind.CHECKIN,
        payload={
            "user_id": volunteer.user_id,
            "name": volunteer.real_name,
            "action": action,
            "at": timezone.localtime(at).isoformat(),
            "opportunity_id": opportunity.pk,
            "opportunity_title": opportunity.title,
        },
    )


# --- Check-in and check-out ---------------------------------------------------------------


@transaction.atomic
def service_record_check_in(
    *, volunteer: Volunteer, opportunity: Opportunity, code: str, at: datetime | None = None
) -> ServiceRecord:
    """Check a volunteer in with the code shown by the organiser. Needs a confirmed sign-up;
    open from 60 minutes before the start until the end. A team's room hears of it."""
    at = at or timezone.now()
    opportunity = Opportunity.objects.select_related("team").get(pk=opportunity.pk)
    if opportunity.status != Opportunity.Status.OPEN:
        raise InvalidState(_("该活动已取消或已结束。"))
    if not Signup.objects.filter(
        volunteer=volunteer, opportunity=opportunity, status=Signup.Status.CONFIRMED
    ).exists():
        raise InvalidState(_("您没有该活动的正式报名，不能签到。"))
    if at < opportunity.starts_at - CHECKIN_OPENS_BEFORE:
        raise InvalidState(_("活动开始前60分钟起才能签到。"))
    if at > opportunity.ends_at:
        raise InvalidState(_("活动已结束，不能签到。"))
    _verify_code(opportunity, code, at)
    if ServiceRecord.objects.filter(volunteer=volunteer, opportunity=opportunity).exists():
        raise InvalidState(_("您已在该活动签到。"))
    record = ServiceRecord(
        volunteer=volunteer,
        opportunity=opportunity,
        status=ServiceRecord.Status.OPEN,
        source=ServiceRecord.Source.CHECKIN,
        checked_in_at=at,
    )
    record.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as exc:  # a second tap on the same button
        raise InvalidState(_("您已在该活动签到。")) from exc
    _team_checkin_event(opportunity, volunteer, "in", at)
    return record


@transaction.atomic
def service_record_check_out(
    *, volunteer: Volunteer, opportunity: Opportunity, code: str, at: datetime | None = None
) -> ServiceRecord:
    """Check a volunteer out with the current code: hours are counted to the quarter hour
    (at most 24), abnormal records are flagged, and the record waits for confirmation."""
    at = at or timezone.now()
    opportunity = Opportunity.objects.select_related("team").get(pk=opportunity.pk)
    record = (
        ServiceRecord.objects.select_for_update()
        .filter(volunteer=volunteer, opportunity=opportunity)
        .first()
    )
    if record is None:
        raise InvalidState(_("您尚未签到，不能签退。"))
    if record.status != ServiceRecord.Status.OPEN:
        raise InvalidState(_("您已签退。"))
    if at < record.checked_in_at:
        raise InvalidState(_("签退时间不能早于签到时间。"))
    _verify_code(opportunity, code, at)
    record.checked_out_at = at
    record.hours = _hours(at - record.checked_in_at)
    record.flags = _flags(record, opportunity)
    record.status = ServiceRecord.Status.PENDING
    record.save(update_fields=["checked_out_at", "hours", "flags", "status"])
    _team_checkin_event(opportunity, volunteer, "out", at)
    return record


@transaction.atomic
def service_record_add_manual(
    *,
    by: User,
    volunteer: Volunteer,
    opportunity: Opportunity,
    checked_in_at: datetime,
    checked_out_at: datetime,
    note: str,
) -> ServiceRecord:
    """An organiser records hours the volunteer could not check in or out for (a dead
    phone, no signal). The record is marked as added by hand and waits for confirmation
    like any other."""
    if not opportunity_is_organiser(opportunity=opportunity, user=by):
        raise NotPermitted(_("只有活动的组织方可以补录服务记录。"))
    errors = {}
    if not (note or "").strip():
        errors["note"] = _("请填写补录说明。")
    if checked_out_at <= checked_in_at:
        errors["checked_out_at"] = _("签退时间应晚于签到时间。")
    elif checked_out_at > timezone.now():
        errors["checked_out_at"] = _("不能补录未来的服务时间。")
    if errors:
        raise ValidationError(errors)
    if ServiceRecord.objects.filter(volunteer=volunteer, opportunity=opportunity).exists():
        raise InvalidState(_("该志愿者已有本活动的服务记录。"))
    record = ServiceRecord(
        volunteer=volunteer,
        opportunity=opportunity,
        status=ServiceRecord.Status.PENDING,
        source=ServiceRecord.Source.MANUAL,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        hours=_hours(checked_out_at - checked_in_at),
        note=note.strip()[:200],
    )
    record.flags = ["manual", *_flags(record, opportunity)]
    record.full_clean()
    record.save()
    return record


# --- Confirmation, revocation and the total -----------------------------------------------


def _lock_for_decision(record: ServiceRecord, by: User) -> ServiceRecord:
    opportunity = Opportunity.objects.get(pk=record.opportunity_id)
    if not opportunity_is_organiser(opportunity=opportunity, user=by):
        raise NotPermitted(_("只有活动的组织方可以确认或撤销服务时长。"))
    # Volunteer first, as everywhere: the total is recomputed under this lock.
    volunteer = Volunteer.objects.select_for_update().get(pk=record.volunteer_id)
    if volunteer.user_id == by.pk:
        raise NotPermitted(_("不能确认或撤销自己的服务时长。"))
    return ServiceRecord.objects.select_for_update().select_related("volunteer").get(pk=record.pk)


@transaction.atomic
def service_record_confirm(*, record: ServiceRecord, by: User) -> ServiceRecord:
    """The organiser confirms a pending record; its hours join the volunteer's total."""
    locked = _lock_for_decision(record, by)
    if locked.status != ServiceRecord.Status.PENDING:
        raise InvalidState(_("只有待确认的记录可以确认。"))
    locked.status = ServiceRecord.Status.CONFIRMED
    locked.confirmed_by = by
    locked.confirmed_at = timezone.now()
    locked.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    volunteer_hours_refresh(volunteer=locked.volunteer)
    return locked


@transaction.atomic
def service_record_revoke(*, record: ServiceRecord, by: User, reason: str) -> ServiceRecord:
    """The organiser revokes an abnormal record, with a reason; a confirmed record's hours
    leave the volunteer's total."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写撤销原因。")})
    if len(reason) > 200:
        raise ValidationError({"reason": _("撤销原因不能超过200字。")})
    locked = _lock_for_decision(record, by)
    if locked.status == ServiceRecord.Status.REVOKED:
        raise InvalidState(_("该记录已撤销。"))
    was_confirmed = locked.status == ServiceRecord.Status.CONFIRMED
    locked.status = ServiceRecord.Status.REVOKED
    locked.revoked_by = by
    locked.revoked_at = timezone.now()
    locked.revoke_reason = reason
    locked.save(update_fields=["status", "revoked_by", "revoked_at", "revoke_reason"])
    if was_confirmed:
        volunteer_hours_refresh(volunteer=locked.volunteer)
    return locked


@transaction.atomic
def volunteer_hours_refresh(*, volunteer: Volunteer) -> Volunteer:
    """Recompute the volunteer's confirmed hours and star level from the records, under the
    volunteer's row lock. A rise in stars is announced after commit."""
    locked = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
    total = ServiceRecord.objects.filter(
        volunteer=locked, status=ServiceRecord.Status.CONFIRMED
    ).aggregate(total=Sum("hours"))["total"] or Decimal("0")
    level = star_level_for(total)
    rose = level > locked.star_level
    locked.confirmed_hours, locked.star_level = total, level
    locked.save(update_fields=["confirmed_hours", "star_level"])
    volunteer.confirmed_hours, volunteer.star_level = total, level
    if rose:
        from volunteers.tasks import volunteer_star_notify as task

        task.delay_on_commit(volunteer_id=locked.pk)
    return locked


def volunteer_star_notify(*, volunteer_id: int) -> int:
    """Congratulate a volunteer on their star level (page notice and mail). Returns 1 when
    told, 0 if the volunteer is gone or has no stars."""
    volunteer = Volunteer.objects.select_related("user").filter(pk=volunteer_id).first()
    if volunteer is None or volunteer.star_level == 0:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("星级志愿者晋级通知")
        body = _("祝贺您！您的已确认服务时长达到 %(hours)s 小时，晋升为%(stars)s星级志愿者。") % {
            "hours": hours_display(volunteer.confirmed_hours),
            "stars": volunteer.stars_display,
        }
    return _tell(
        [volunteer.user],
        subject=subject,
        body=body,
        payload={"event": "volunteer.stars", "star_level": volunteer.star_level},
    )
