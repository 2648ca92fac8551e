"""The people who serve: volunteers (real-name registered) and professional social workers.

A volunteer's resident ID and phone are stored as in `marketplace/crypto.py`: ciphertext,
keyed lookup hash and masked form, never in plain text."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Organisation, ServiceType, User

__all__ = [
    "STAR_THRESHOLDS",
    "Affiliation",
    "Availability",
    "Certificate",
    "Skill",
    "SocialWorker",
    "Volunteer",
    "VolunteerAccess",
    "star_level_for",
]

# 星级志愿者: confirmed hours needed for each star (the district's recognition scheme).
STAR_THRESHOLDS: tuple[tuple[int, int], ...] = (
    (5, 1500),
    (4, 1000),
    (3, 600),
    (2, 300),
    (1, 100),
)


def star_level_for(hours: Decimal | int | float) -> int:
    """Stars earned by this many confirmed hours (0 below 100 hours)."""
    for stars, threshold in STAR_THRESHOLDS:
        if hours >= threshold:
            return stars
    return 0


class Skill(models.Model):
    """One entry of the skills taxonomy (seeded, editable data). `service_types` says which
    kinds of need the skill serves, so matching can tell why a person fits."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    needs_certificate = models.BooleanField(_("需要资质证书"), default=False)
    service_types = models.ManyToManyField(
        ServiceType, verbose_name=_("适用服务类型"), blank=True, related_name="skills"
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("技能")
        verbose_name_plural = _("技能")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Volunteer(models.Model):
    """A real-name registered volunteer (志愿者). One per user and one per resident ID."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="volunteer")
    real_name = models.CharField(_("真实姓名"), max_length=32)
    id_cipher = models.TextField(editable=False)
    id_hash = models.CharField(max_length=64, editable=False, unique=True)
    id_masked = models.CharField(_("身份证号码"), max_length=18, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False)
    phone_cipher = models.TextField(editable=False)
    phone_hash = models.CharField(max_length=64, editable=False, db_index=True)
    phone_masked = models.CharField(_("手机号码"), max_length=11, editable=False)
    home_community = models.ForeignKey(
        Area,
        verbose_name=_("所在社区"),
        on_delete=models.PROTECT,
        related_name="volunteers",
        limit_choices_to={"level": Area.Level.COMMUNITY},
    )
    # Denormalised from the community so that "volunteers of a street" is one indexed filter.
    street = models.ForeignKey(
        Area, editable=False, on_delete=models.PROTECT, related_name="+", null=True
    )
    skills = models.ManyToManyField(
        Skill, verbose_name=_("技能"), blank=True, related_name="volunteers"
    )
    max_concurrent = models.PositiveSmallIntegerField(
        _("同时承担任务数"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("同一时间最多参加几项活动或团队任务。"),
    )
    introduction = models.CharField(_("个人简介"), max_length=300, blank=True)
    # Kept by the hours services (confirm / revoke), never typed in.
    confirmed_hours = models.DecimalField(
        _("已确认服务时长"), max_digits=8, decimal_places=2, default=Decimal("0"), editable=False
    )
    star_level = models.PositiveSmallIntegerField(_("星级"), default=0, editable=False)
    registered_at = models.DateTimeField(_("注册时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("志愿者")
        verbose_name_plural = _("志愿者")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed_hours__gte=0), name="volunteer_hours_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(star_level__gte=0) & Q(star_level__lte=5),
                name="volunteer_star_level_range",
            ),
        ]

    def __str__(self) -> str:
        return self.real_name

    def save(self, *args, **kwargs):
        self.street_id = self.home_community.parent_id if self.home_community_id else None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("volunteer-detail", args=[self.pk])

    def clean(self) -> None:
        if self.home_community_id and self.home_community.level != Area.Level.COMMUNITY:
            raise ValidationError({"home_community": _("请选择社区或村。")})

    @property
    def stars_display(self) -> str:
        return "★" * self.star_level


class Certificate(models.Model):
    """A qualification a volunteer holds (first-aid, driving licence, counsellor, …)."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="certificates")
    name = models.CharField(_("证书名称"), max_length=64)
    issuer = models.CharField(_("发证机构"), max_length=64, blank=True)
    number = models.CharField(_("证书编号"), max_length=64, blank=True)
    skill = models.ForeignKey(
        Skill,
        verbose_name=_("对应技能"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)

    class Meta:
        verbose_name = _("资质证书")
        verbose_name_plural = _("资质证书")
        ordering = ["volunteer_id", "pk"]

    def __str__(self) -> str:
        return self.name


class Availability(models.Model):
    """A weekly window when a volunteer is free, e.g. Tuesday 14:00–17:00."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("周一")
        TUESDAY = 1, _("周二")
        WEDNESDAY = 2, _("周三")
        THURSDAY = 3, _("周四")
        FRIDAY = 4, _("周五")
        SATURDAY = 5, _("周六")
        SUNDAY = 6, _("周日")

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="availabilities"
    )
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices)
    start = models.TimeField(_("开始时间"))
    end = models.TimeField(_("结束时间"))

    class Meta:
        verbose_name = _("空闲时间")
        verbose_name_plural = _("空闲时间")
        ordering = ["volunteer_id", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="availability_end_after_start",
                violation_error_message=_("结束时间应晚于开始时间。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class Affiliation(models.Model):
    """A volunteer's request to join a volunteer organisation or their street's 志愿者联合会,
    decided by that organisation. Approval also grants the volunteer role in it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已加入")
        REJECTED = "rejected", _("未通过")
        LEFT = "left", _("已退出")

    KINDS = {Organisation.Kind.VOLUNTEER_ORG, Organisation.Kind.VOLUNTEER_FEDERATION}

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="affiliations")
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("组织"),
        on_delete=models.PROTECT,
        related_name="volunteer_affiliations",
        limit_choices_to={"kind__in": KINDS},
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    message = models.CharField(_("申请说明"), max_length=200, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.CharField(_("审核意见"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("组织加入申请")
        verbose_name_plural = _("组织加入申请")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "organisation"],
                condition=Q(status__in=["pending", "approved"]),
                name="affiliation_one_live_per_organisation",
                violation_error_message=_("您已申请或已加入该组织。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} · {self.organisation}"

    def clean(self) -> None:
        if self.organisation_id and self.organisation.kind not in self.KINDS:
            raise ValidationError({"organisation": _("只能加入志愿服务组织或志愿者联合会。")})


class SocialWorker(models.Model):
    """A professional social worker (社会工作者) of an agency or a street's 社工站."""

    class Level(models.TextChoices):
        NONE = "none", _("未取得职业资格")
        ASSISTANT = "assistant", _("助理社会工作师")
        INTERMEDIATE = "intermediate", _("社会工作师")
        SENIOR = "senior", _("高级社会工作师")

    KINDS = {Organisation.Kind.AGENCY, Organisation.Kind.SOCIAL_WORK_STATION}

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="social_worker")
    real_name = models.CharField(_("姓名"), max_length=32)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("所属机构"),
        on_delete=models.PROTECT,
        related_name="social_workers",
        limit_choices_to={"kind__in": KINDS},
    )
    level = models.CharField(
        _("职业资格等级"), max_length=16, choices=Level.choices, default=Level.NONE
    )
    certificate_number = models.CharField(_("证书编号"), max_length=64, blank=True)
    specialties = models.ManyToManyField(
        ServiceType, verbose_name=_("专长领域"), blank=True, related_name="social_workers"
    )
    max_concurrent = models.PositiveSmallIntegerField(
        _("同时带领团队数"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    active = models.BooleanField(_("在职"), default=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("社会工作者")
        verbose_name_plural = _("社会工作者")
        ordering = ["organisation_id", "pk"]

    def __str__(self) -> str:
        return self.real_name

    def clean(self) -> None:
        errors = {}
        if self.organisation_id and self.organisation.kind not in self.KINDS:
            errors["organisation"] = _("社会工作者应属于社工机构或社工站。")
        if self.level != self.Level.NONE and not self.certificate_number.strip():
            errors["certificate_number"] = _("持证社工请填写证书编号。")
        if errors:
            raise ValidationError(errors)


class VolunteerAccess(models.Model):
    """One full view of a volunteer's ID number or phone: who saw it, when and why."""

    class Field(models.TextChoices):
        ID_NUMBER = "id_number", _("身份证号码")
        PHONE = "phone", _("手机号码")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(_("字段"), max_length=16, choices=Field.choices)
    reason = models.CharField(_("查看事由"), max_length=200)
    at = models.DateTimeField(_("查看时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("志愿者敏感信息查看记录")
        verbose_name_plural = _("志愿者敏感信息查看记录")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.field} · {self.volunteer_id}"
