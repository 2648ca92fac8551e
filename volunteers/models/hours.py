"""Service hours (服务时长): one record per volunteer per opportunity, from check-in to
check-out, pending until the team lead or organiser confirms it."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import User
from volunteers.models.opportunities import Opportunity
from volunteers.models.people import Volunteer

__all__ = ["ServiceRecord"]


class ServiceRecord(models.Model):
    """Hours a volunteer served in one opportunity. Hours count towards stars only once
    confirmed; a confirmed record that proves abnormal is revoked with a reason."""

    class Status(models.TextChoices):
        OPEN = "open", _("服务中")
        PENDING = "pending", _("待确认")
        CONFIRMED = "confirmed", _("已确认")
        REVOKED = "revoked", _("已撤销")

    class Source(models.TextChoices):
        CHECKIN = "checkin", _("扫码签到")
        MANUAL = "manual", _("补录")

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="records")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.PROTECT, related_name="records")
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    source = models.CharField(
        _("来源"), max_length=16, choices=Source.choices, default=Source.CHECKIN
    )
    checked_in_at = models.DateTimeField(_("签到时间"))
    checked_out_at = models.DateTimeField(_("签退时间"), null=True, blank=True)
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=6, decimal_places=2, default=0)
    # Why the record looks abnormal (too long, overlapping, far from the opportunity's time),
    # as codes; shown to the confirmer.
    flags = models.JSONField(_("异常提示"), default=list, blank=True)
    confirmed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoke_reason = models.CharField(_("撤销原因"), max_length=200, blank=True)
    # Why hours were entered by hand (source MANUAL): a dead phone, a paper sign-in sheet.
    note = models.CharField(_("补录说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("服务记录")
        verbose_name_plural = _("服务记录")
        ordering = ["-checked_in_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "opportunity"],
                name="service_record_one_per_opportunity",
                violation_error_message=_("您已在该活动签到。"),
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_out_at__gte=F("checked_in_at")),
                name="service_record_out_after_in",
            ),
            models.CheckConstraint(
                condition=Q(hours__gte=0) & Q(hours__lte=24), name="service_record_hours_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="revoked") | ~Q(revoke_reason=""),
                name="service_record_revoked_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} · {self.opportunity} · {self.hours}"
