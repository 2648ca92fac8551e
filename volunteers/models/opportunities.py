"""Volunteering opportunities (志愿活动、岗位) and people's places in them.

Two rules hold in the database, not only in the services:
- an opportunity never has more confirmed sign-ups than slots (`confirmed_count` is kept by
  the services with `F()` updates under a row lock, and a check constraint bounds it);
- a volunteer never holds two confirmed sign-ups whose times overlap (an exclusion
  constraint on PostgreSQL, see migration 0002; the service checks the same under a lock
  of the volunteer's row on every database)."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Organisation, ServiceType, User
from volunteers.models.people import Skill, Volunteer

__all__ = ["Opportunity", "Signup", "new_checkin_secret"]


def new_checkin_secret() -> str:
    """A random base32 secret for the rotating check-in code (RFC 6238 TOTP)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "".join(secrets.choice(alphabet) for _ in range(32))


class Opportunity(models.Model):
    """A piece of volunteering at a place and time, with a number of places."""

    class Status(models.TextChoices):
        OPEN = "open", _("招募中")
        CANCELLED = "cancelled", _("已取消")
        FINISHED = "finished", _("已结束")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("发布组织"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    team = models.ForeignKey(
        "volunteers.Team",
        verbose_name=_("所属团队"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    title = models.CharField(_("活动名称"), max_length=80)
    description = models.TextField(_("活动内容"), max_length=2000)
    service_type = models.ForeignKey(
        ServiceType,
        verbose_name=_("服务类型"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    community = models.ForeignKey(
        Area,
        verbose_name=_("活动社区"),
        on_delete=models.PROTECT,
        related_name="opportunities",
        limit_choices_to={"level": Area.Level.COMMUNITY},
    )
    # Denormalised from `community` so that "opportunities in a street" is one indexed filter.
    street = models.ForeignKey(
        Area, editable=False, null=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("集合地点"), max_length=120, blank=True)
    starts_at = models.DateTimeField(_("开始时间"), db_index=True)
    ends_at = models.DateTimeField(_("结束时间"))
    skills = models.ManyToManyField(
        Skill, verbose_name=_("所需技能"), blank=True, related_name="opportunities"
    )
    slots = models.PositiveSmallIntegerField(
        _("招募人数"), validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    confirmed_count = models.PositiveSmallIntegerField(_("已报名人数"), default=0, editable=False)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    checkin_secret = models.CharField(max_length=32, default=new_checkin_secret, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("志愿活动")
        verbose_name_plural = _("志愿活动")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="opportunity_ends_after_start",
                violation_error_message=_("结束时间应晚于开始时间。"),
            ),
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("slots")),
                name="opportunity_not_overbooked",
                violation_error_message=_("名额已满。"),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.street_id = self.community.parent_id if self.community_id else None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("opportunity-detail", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        if self.community_id and self.community.level != Area.Level.COMMUNITY:
            errors["community"] = _("请选择社区或村。")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("结束时间应晚于开始时间。")
        if self.slots is not None and self.slots < self.confirmed_count:
            errors["slots"] = _("招募人数不能少于已报名人数（%(n)s）。") % {
                "n": self.confirmed_count
            }
        if errors:
            raise ValidationError(errors)

    @property
    def open_slots(self) -> int:
        return max(self.slots - self.confirmed_count, 0)


class Signup(models.Model):
    """A volunteer's place in an opportunity: confirmed, on the waiting list, or cancelled.
    `starts_at` / `ends_at` copy the opportunity's times so the overlap rule can be a
    database constraint."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("已报名")
        WAITLISTED = "waitlisted", _("候补中")
        CANCELLED = "cancelled", _("已取消")

    LIVE = (Status.CONFIRMED, Status.WAITLISTED)

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="signups")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="signups")
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, db_index=True)
    starts_at = models.DateTimeField(editable=False)
    ends_at = models.DateTimeField(editable=False)
    created_at = models.DateTimeField(_("报名时间"), auto_now_add=True)
    # The waiting list moves up in this order (time of joining it).
    waitlisted_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("活动报名")
        verbose_name_plural = _("活动报名")
        ordering = ["opportunity_id", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "volunteer"],
                condition=Q(status__in=["confirmed", "waitlisted"]),
                name="signup_one_live_per_volunteer",
                violation_error_message=_("您已报名该活动。"),
            ),
        ]
        indexes = [
            models.Index(fields=["volunteer", "status", "starts_at"], name="signup_volunteer_time"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} · {self.opportunity}"
