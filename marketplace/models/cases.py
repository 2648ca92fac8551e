"""Assistance cases: households in difficulty, their members and needs, how they entered,
referrals to departments, risk warnings, and the protection of the people behind them.

Resident ID numbers and phones are never stored in plain text: each is kept as AES-GCM
ciphertext, a keyed lookup hash and a masked form (see `marketplace/crypto.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models.directory import Area, Organisation, User

# Per-capita monthly income above this is not plausible for an assistance case; it is a typo.
INCOME_CEILING = Decimal("100000")


class Category(models.TextChoices):
    DIBAO = "dibao", _("低保")
    TEKUN = "tekun", _("特困")
    LOW_INCOME = "low_income", _("低收入")
    EXPENDITURE = "expenditure", _("支出型困难")
    TEMPORARY = "temporary", _("临时/急难")


class Channel(models.TextChoices):
    ONLINE = "online", _("掌上办（线上申请）")
    WINDOW = "window", _("一门受理（窗口登记）")
    DISCOVERY = "discovery", _("主动发现")
    REFERRAL = "referral", _("部门转介")


class AssistanceStandard(models.Model):
    """The 低保 standard: a monthly per-capita amount for one year in one area (the district,
    or a street where it differs). Data, not code: the bureau enters a new row each year."""

    year = models.PositiveSmallIntegerField(_("年度"))
    area = models.ForeignKey(Area, verbose_name=_("区域"), on_delete=models.PROTECT)
    dibao_monthly = models.DecimalField(
        _("低保标准（元/人·月）"),
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1"))],
    )

    class Meta:
        verbose_name = _("低保标准")
        verbose_name_plural = _("低保标准")
        ordering = ["-year", "area__code"]
        constraints = [
            models.UniqueConstraint(fields=["year", "area"], name="standard_unique_year_area")
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.area} {self.dibao_monthly}"


class ServiceType(models.Model):
    """A kind of service a need asks for (seeded from the plan's list; editable data)."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("服务类型")
        verbose_name_plural = _("服务类型")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """A household known to the assistance system (救助对象). One household per resident ID:
    every member's ID hash is unique across all cases."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("待核实")
        ACTIVE = "active", _("在册")
        DISMISSED = "dismissed", _("核实不符")
        CLOSED = "closed", _("已结案")

    head_name = models.CharField(_("户主姓名"), max_length=32)
    community = models.ForeignKey(
        Area,
        verbose_name=_("所在社区"),
        on_delete=models.PROTECT,
        related_name="cases",
        limit_choices_to={"level": Area.Level.COMMUNITY},
    )
    # Denormalised from `community` so that "cases of a street" is one indexed filter.
    street = models.ForeignKey(
        Area, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+", editable=False
    )
    address = models.CharField(_("住址"), max_length=200, blank=True)
    phone_cipher = models.TextField(editable=False, blank=True)
    phone_hash = models.CharField(max_length=64, editable=False, blank=True, db_index=True)
    phone_masked = models.CharField(_("联系电话"), max_length=16, editable=False, blank=True)
    category = models.CharField(
        _("救助类别"), max_length=16, choices=Category.choices, blank=True, db_index=True
    )
    household_size = models.PositiveSmallIntegerField(
        _("家庭人口"), default=1, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    income_per_capita = models.DecimalField(
        _("家庭人均月收入（元）"),
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(INCOME_CEILING)],
    )
    assets_within_rules = models.BooleanField(_("财产状况符合规定"), default=True)
    medical_expense_year = models.DecimalField(
        _("近12个月自付医疗费用（元）"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10000000"))],
    )
    situation = models.TextField(_("困难情况（内部）"), blank=True)
    channel = models.CharField(_("受理渠道"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    verify_deadline = models.DateTimeField(_("核实期限"), null=True, blank=True)
    verified_by = models.ForeignKey(
        User,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verify_note = models.CharField(_("核实说明"), max_length=200, blank=True)
    applicant = models.ForeignKey(
        User,
        verbose_name=_("线上申请人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="applications",
    )
    referred_by = models.ForeignKey(
        Organisation,
        verbose_name=_("转介部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        User, verbose_name=_("登记人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # A form carries a one-time key; a second submission of the same form finds this row.
    submission_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("救助对象（家庭）")
        verbose_name_plural = _("救助对象（家庭）")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["street", "status"], name="case_street_status")]

    def __str__(self) -> str:
        return _("%(name)s户") % {"name": self.head_name}

    def save(self, *args, **kwargs):
        self.street_id = self.community.parent_id if self.community_id else None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("case-detail", args=[self.pk])

    def clean(self) -> None:
        if self.community_id and self.community.level != Area.Level.COMMUNITY:
            raise ValidationError({"community": _("请选择社区或村。")})

    @property
    def candidate_overdue(self) -> bool:
        return (
            self.status == self.Status.CANDIDATE
            and self.verify_deadline is not None
            and self.verify_deadline < timezone.now()
        )


class CaseMember(models.Model):
    """A person in a household. The ID number gives the birth date, hence the age."""

    class Relationship(models.TextChoices):
        HEAD = "head", _("户主")
        SPOUSE = "spouse", _("配偶")
        CHILD = "child", _("子女")
        PARENT = "parent", _("父母")
        GRANDCHILD = "grandchild", _("孙子女")
        GRANDPARENT = "grandparent", _("祖父母")
        SIBLING = "sibling", _("兄弟姐妹")
        OTHER = "other", _("其他")

    class LeftBehind(models.TextChoices):
        NONE = "", _("否")
        CHILD = "child", _("留守儿童")
        WOMAN = "woman", _("留守妇女")
        ELDERLY = "elderly", _("留守老人")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="members")
    name = models.CharField(_("姓名"), max_length=32)
    relationship = models.CharField(_("与户主关系"), max_length=16, choices=Relationship.choices)
    id_cipher = models.TextField(editable=False)
    id_hash = models.CharField(max_length=64, editable=False, unique=True)
    id_masked = models.CharField(_("身份证号码"), max_length=18, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False)
    disability = models.BooleanField(_("残疾"), default=False)
    serious_illness = models.BooleanField(_("重病"), default=False)
    elderly_alone = models.BooleanField(_("独居老人"), default=False)
    left_behind = models.CharField(
        _("三留守"), max_length=16, choices=LeftBehind.choices, default="", blank=True
    )

    class Meta:
        verbose_name = _("家庭成员")
        verbose_name_plural = _("家庭成员")
        ordering = ["case_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(relationship="head"),
                name="case_member_one_head",
                violation_error_message=_("一户只能有一位户主。"),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())

    @property
    def is_minor(self) -> bool:
        return self.age < 18


class Consent(models.Model):
    """An explicit consent: to check the household's finances (一证一书), to process sensitive
    information, or a guardian's consent for a child under 14."""

    class Kind(models.TextChoices):
        FINANCE_CHECK = "finance_check", _("家庭经济状况核对授权")
        SENSITIVE_INFO = "sensitive_info", _("敏感个人信息处理同意")
        GUARDIAN = "guardian", _("监护人同意（未满14周岁）")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="consents")
    member = models.ForeignKey(
        CaseMember, null=True, blank=True, on_delete=models.CASCADE, related_name="consents"
    )
    kind = models.CharField(_("同意类型"), max_length=16, choices=Kind.choices)
    given_by_name = models.CharField(_("同意人"), max_length=32)
    letter = models.FileField(_("授权书扫描件"), upload_to="consents/%Y/%m/", blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(_("同意时间"), default=timezone.now)

    class Meta:
        verbose_name = _("同意记录")
        verbose_name_plural = _("同意记录")
        ordering = ["given_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.given_by_name}"


class Need(models.Model):
    """What a case needs: funds, goods or a service. The public description is the only
    text providers see; everything that identifies the household stays on the case."""

    class Kind(models.TextChoices):
        FUNDS = "funds", _("资金")
        GOODS = "goods", _("实物")
        SERVICE = "service", _("服务")

    class Urgency(models.TextChoices):
        NORMAL = "normal", _("一般")
        URGENT = "urgent", _("紧急")
        EMERGENCY = "emergency", _("急难")

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("已提交")
        CONFIRMED = "confirmed", _("街道已确认")
        OPEN = "open", _("对接中")
        MATCHED = "matched", _("已匹配")
        IN_PROGRESS = "in_progress", _("服务中")
        DONE = "done", _("已完成")
        CLOSED = "closed", _("已结案")
        CANCELLED = "cancelled", _("已撤销")
        REJECTED = "rejected", _("未通过")

    # The lifecycle: which status may follow which. Services enforce it.
    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.SUBMITTED, Status.CANCELLED},
        Status.SUBMITTED: {Status.CONFIRMED, Status.REJECTED, Status.CANCELLED},
        Status.CONFIRMED: {Status.OPEN, Status.CANCELLED},
        Status.OPEN: {Status.MATCHED, Status.CANCELLED},
        Status.MATCHED: {Status.IN_PROGRESS, Status.OPEN, Status.CANCELLED},
        Status.IN_PROGRESS: {Status.DONE},
        Status.DONE: {Status.CLOSED},
        Status.CLOSED: set(),
        Status.CANCELLED: set(),
        Status.REJECTED: set(),
    }
    # Statuses in which an emergency still waits for a response.
    AWAITING_RESPONSE = {Status.SUBMITTED, Status.CONFIRMED, Status.OPEN}
    # Statuses providers may see (de-identified), and the only fields they may see.
    PUBLIC = {Status.OPEN}
    PUBLIC_FIELDS = (
        "id",
        "kind",
        "service_type__name",
        "service_type__code",
        "amount",
        "quantity",
        "urgency",
        "community__name",
        "street__name",
        "window_start",
        "window_end",
        "team",
        "public_description",
        "status",
        "response_deadline",
        "created_at",
    )

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="needs")
    kind = models.CharField(_("需求类型"), max_length=16, choices=Kind.choices)
    service_type = models.ForeignKey(
        ServiceType, verbose_name=_("服务类型"), on_delete=models.PROTECT, related_name="needs"
    )
    amount = models.DecimalField(
        _("金额（元）"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1000000"))],
    )
    quantity = models.PositiveIntegerField(
        _("数量"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
    )
    urgency = models.CharField(
        _("紧急程度"),
        max_length=16,
        choices=Urgency.choices,
        default=Urgency.NORMAL,
        db_index=True,
    )
    community = models.ForeignKey(
        Area, verbose_name=_("服务社区"), on_delete=models.PROTECT, related_name="needs"
    )
    street = models.ForeignKey(
        Area, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+", editable=False
    )
    window_start = models.DateField(_("开始日期"))
    window_end = models.DateField(_("结束日期"))
    # Role → head count, e.g. {"social_worker": 1, "volunteer": 2}.
    team = models.JSONField(_("所需团队"), default=dict, blank=True)
    public_description = models.TextField(
        _("公开描述（已脱敏）"),
        max_length=500,
        blank=True,
        help_text=_("服务方只能看到这段文字：不要写姓名、身份证号、电话、住址门牌。"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    status_reason = models.CharField(_("原因"), max_length=200, blank=True)
    channel = models.CharField(_("受理渠道"), max_length=16, choices=Channel.choices)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    response_deadline = models.DateTimeField(_("响应期限"), null=True, blank=True, db_index=True)
    escalation_level = models.PositiveSmallIntegerField(_("督办层级"), default=0)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    submission_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("需求")
        verbose_name_plural = _("需求")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["street", "status"], name="need_street_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gte=models.F("window_start")),
                name="need_window_ordered",
                violation_error_message=_("结束日期不能早于开始日期。"),
            )
        ]

    ESCALATION_LABELS = {0: "", 1: _("已督办至街道"), 2: _("已督办至区民政局")}

    def __str__(self) -> str:
        return f"{self.service_type} · {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        self.street_id = self.community.parent_id if self.community_id else None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("need-detail", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        if self.community_id and self.community.level != Area.Level.COMMUNITY:
            errors["community"] = _("请选择社区或村。")
        if self.kind == self.Kind.FUNDS and not self.amount:
            errors["amount"] = _("资金需求须填写金额。")
        if self.kind == self.Kind.GOODS and not self.quantity:
            errors["quantity"] = _("实物需求须填写数量。")
        if self.window_start and self.window_end and self.window_end < self.window_start:
            errors["window_end"] = _("结束日期不能早于开始日期。")
        team_error = self.team_error(self.team)
        if team_error:
            errors["team"] = team_error
        if errors:
            raise ValidationError(errors)

    TEAM_ROLES = {"social_worker": _("社会工作者"), "volunteer": _("志愿者")}

    @classmethod
    def team_error(cls, team) -> str | None:
        """Why a team requirement is malformed, or None."""
        if not isinstance(team, dict):
            return _("团队要求格式不正确。")
        for role, count in team.items():
            if role not in cls.TEAM_ROLES:
                return _("未知的团队角色：%(role)s。") % {"role": role}
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 50:
                return _("每个角色的人数应为1到50之间的整数。")
        return None

    def team_display(self) -> str:
        return "、".join(
            f"{self.TEAM_ROLES.get(role, role)}×{count}" for role, count in self.team.items()
        )

    @property
    def is_emergency(self) -> bool:
        return self.urgency == self.Urgency.EMERGENCY

    @property
    def awaiting_response(self) -> bool:
        return self.is_emergency and self.status in self.AWAITING_RESPONSE

    @property
    def overdue(self) -> bool:
        return bool(
            self.awaiting_response
            and self.response_deadline
            and self.response_deadline < timezone.now()
        )


class NeedTransition(models.Model):
    """One step of a need's lifecycle: who moved it, when, from what to what, and why."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(_("原状态"), max_length=16, choices=Need.Status.choices)
    to_status = models.CharField(_("新状态"), max_length=16, choices=Need.Status.choices)
    by = models.ForeignKey(
        User, verbose_name=_("操作人"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("说明"), max_length=200, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("需求状态记录")
        verbose_name_plural = _("需求状态记录")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.from_status} → {self.to_status}"


class NeedEscalation(models.Model):
    """An overdue emergency sent up: level 1 to the street office, 2 to civil affairs."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(_("督办层级"))
    at = models.DateTimeField(_("督办时间"), default=timezone.now)

    class Meta:
        verbose_name = _("急难督办")
        verbose_name_plural = _("急难督办")
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["need", "level"], name="escalation_once_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.need_id} ↑{self.level}"


class Referral(models.Model):
    """A case handed to a department (转介) and the loop back to the referring worker."""

    class Status(models.TextChoices):
        SENT = "sent", _("已转介")
        ACCEPTED = "accepted", _("部门已受理")
        DONE = "done", _("已办结")
        RETURNED = "returned", _("已退回")

    TRANSITIONS = {
        Status.SENT: {Status.ACCEPTED, Status.RETURNED},
        Status.ACCEPTED: {Status.DONE, Status.RETURNED},
        Status.DONE: set(),
        Status.RETURNED: set(),
    }
    # Departments a case can be referred to.
    DEPARTMENTS = {
        Organisation.Department.EDUCATION,
        Organisation.Department.HOUSING,
        Organisation.Department.HEALTH,
        Organisation.Department.EMPLOYMENT,
        Organisation.Department.MEDICAL_INSURANCE,
        Organisation.Department.EMERGENCY,
    }

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="referrals")
    department = models.ForeignKey(
        Organisation,
        verbose_name=_("接收部门"),
        on_delete=models.PROTECT,
        related_name="referrals_received",
        limit_choices_to={"kind": Organisation.Kind.DEPARTMENT},
    )
    reason = models.TextField(_("转介事由"), max_length=500)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.SENT, db_index=True
    )
    outcome = models.CharField(_("办理结果/退回原因"), max_length=300, blank=True)
    sent_by = models.ForeignKey(
        User, verbose_name=_("转介人"), on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(_("转介时间"), default=timezone.now)
    due_at = models.DateTimeField(_("办结期限"))
    handled_by = models.ForeignKey(
        User,
        verbose_name=_("办理人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结/退回时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("转介")
        verbose_name_plural = _("转介")
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.case} → {self.department}"

    @property
    def overdue(self) -> bool:
        return self.status in {self.Status.SENT, self.Status.ACCEPTED} and self.due_at < (
            timezone.now()
        )


class MonitoringRule(models.Model):
    """A dynamic-monitoring rule (动态监测). The test each `code` runs is in
    `marketplace/monitoring.py`; its thresholds are data here, edited by civil affairs."""

    class Code(models.TextChoices):
        INCOME_NEAR_LINE = "income_near_line", _("收入略高于低保线")
        MEDICAL_EXPENSE = "medical_expense", _("大额医疗支出")
        ELDERLY_ALONE = "elderly_alone", _("独居老人")
        DISABILITY = "disability", _("家有残疾人")
        TEKUN_MINOR_NEAR_ADULT = "tekun_minor_near_adult", _("特困家庭未成年人临近18岁")

    code = models.CharField(_("规则"), max_length=32, choices=Code.choices, unique=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("监测规则")
        verbose_name_plural = _("监测规则")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.get_code_display()


class Warning(models.Model):
    """A household flagged at risk by a monitoring rule, to be verified by the community.
    While a warning is open, the same rule does not flag the same household again."""

    class Status(models.TextChoices):
        OPEN = "open", _("待核实")
        CONFIRMED = "confirmed", _("核实属实")
        DISMISSED = "dismissed", _("核实排除")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="warnings")
    member = models.ForeignKey(
        CaseMember, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    rule = models.CharField(_("规则"), max_length=32, choices=MonitoringRule.Code.choices)
    detail = models.CharField(_("预警内容"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("预警时间"), default=timezone.now)
    verified_by = models.ForeignKey(
        User,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    note = models.CharField(_("核实记录"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("监测预警")
        verbose_name_plural = _("监测预警")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "rule"],
                condition=Q(status="open"),
                name="warning_one_open_per_case_rule",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} · {self.get_rule_display()}"


class SensitiveAccess(models.Model):
    """One full view of a sensitive value: who saw what of whom, when and why."""

    class Field(models.TextChoices):
        ID_NUMBER = "id_number", _("身份证号码")
        PHONE = "phone", _("联系电话")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(
        CaseMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(_("字段"), max_length=16, choices=Field.choices)
    reason = models.CharField(_("查看事由"), max_length=200)
    at = models.DateTimeField(_("查看时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("敏感信息查看记录")
        verbose_name_plural = _("敏感信息查看记录")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.field} · {self.case_id}"
