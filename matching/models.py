"""Match runs, their proposals with reasons, the approval rules (as data) and every decision.

A run snapshots open needs and available supply into an engine problem, solves it and stores
one `Proposal` per need it could staff (fully or in part), each with a `ProposalItem` per
provider and the cost components that explain it. Approval follows `ApprovalRule`s: the first
rule (by position) whose conditions hold names the level that decides."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models import Area, Need

User = settings.AUTH_USER_MODEL


class Level(models.TextChoices):
    """Who decides: the street office of the need's street, or district civil affairs."""

    STREET = "street", _("街道审批")
    DISTRICT = "district", _("区民政局审批")


class ApprovalRule(models.Model):
    """One authority rule. Rules are read in `position` order; the first whose every set
    condition holds names the approving level. A rule with no condition always holds, so the
    last rule is the default."""

    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("规则名称"), max_length=80)
    min_amount = models.DecimalField(
        _("金额超过（元）"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("需求金额高于此数时适用；留空表示不看金额。"),
    )
    cross_street = models.BooleanField(
        _("跨街道"), default=False, help_text=_("方案中有服务方来自需求所在街道以外时适用。")
    )
    urgency = models.CharField(
        _("紧急程度"),
        max_length=16,
        choices=Need.Urgency.choices,
        blank=True,
        help_text=_("留空表示任何紧急程度。"),
    )
    level = models.CharField(_("审批层级"), max_length=16, choices=Level.choices)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("审批权限规则")
        verbose_name_plural = _("审批权限规则")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class MatchRun(models.Model):
    """One matching run over a street or the whole district (or one emergency need)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("计算中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    class Kind(models.TextChoices):
        MANUAL = "manual", _("手动发起")
        NIGHTLY = "nightly", _("每晚例行")
        EMERGENCY = "emergency", _("急难即时")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    area = models.ForeignKey(
        Area, verbose_name=_("范围"), on_delete=models.PROTECT, related_name="match_runs"
    )
    need = models.ForeignKey(
        Need,
        verbose_name=_("急难需求"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="match_runs",
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        User,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    stage = models.CharField(_("当前步骤"), max_length=80, blank=True)
    needs_count = models.PositiveIntegerField(_("需求数"), default=0)
    slots_count = models.PositiveIntegerField(_("名额数"), default=0)
    providers_count = models.PositiveIntegerField(_("服务方数"), default=0)
    edges_count = models.PositiveIntegerField(_("候选配对数"), default=0)
    proposals_count = models.PositiveIntegerField(_("方案数"), default=0)
    solver_status = models.CharField(_("求解状态"), max_length=16, blank=True)
    method = models.CharField(_("求解方法"), max_length=32, blank=True)
    objective = models.BigIntegerField(_("目标值"), null=True, blank=True)
    bound = models.BigIntegerField(_("下界"), null=True, blank=True)
    gap = models.FloatField(_("差距"), null=True, blank=True)
    seconds = models.FloatField(_("用时（秒）"), null=True, blank=True)
    timings = models.JSONField(_("各步用时"), default=dict, blank=True)
    error = models.CharField(_("失败原因"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("发起时间"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("匹配运行")
        verbose_name_plural = _("匹配运行")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Two runs over the same area at once would propose the same supply twice.
            models.UniqueConstraint(
                fields=["area"],
                condition=Q(status__in=["queued", "running"], need__isnull=True),
                name="matchrun_one_active_per_area",
                violation_error_message=_("该范围已有正在进行的匹配运行。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.area} · {self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("matching:run-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class Proposal(models.Model):
    """The providers a run proposes for one need, waiting for the decision of the level the
    approval rules name."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        REDO = "redo", _("要求重新匹配")
        SUPERSEDED = "superseded", _("已被新方案取代")
        WITHDRAWN = "withdrawn", _("已撤回")

    OPEN = (Status.PENDING,)

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="proposals")
    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="proposals")
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    level = models.CharField(_("审批层级"), max_length=16, choices=Level.choices)
    rule = models.ForeignKey(
        ApprovalRule,
        verbose_name=_("适用规则"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    street = models.ForeignKey(
        Area, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+"
    )
    cost = models.BigIntegerField(_("方案代价"), default=0)
    slots_wanted = models.PositiveSmallIntegerField(_("所需名额"), default=0)
    slots_filled = models.PositiveSmallIntegerField(_("已配名额"), default=0)
    cross_street = models.BooleanField(_("跨街道"), default=False)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now, db_index=True)
    decided_by = models.ForeignKey(
        User,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=300, blank=True)
    team = models.ForeignKey(
        "volunteers.Team",
        verbose_name=_("组建的团队"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("匹配方案")
        verbose_name_plural = _("匹配方案")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["street", "status"], name="proposal_street_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["need"],
                condition=Q(status="pending"),
                name="proposal_one_pending_per_need",
                violation_error_message=_("该需求已有待审批的方案。"),
            ),
        ]

    def __str__(self) -> str:
        return _("需求 %(need)s 的匹配方案") % {"need": self.need_id}

    def get_absolute_url(self) -> str:
        return reverse("matching:proposal-detail", args=[self.pk])

    @property
    def complete(self) -> bool:
        return self.slots_filled >= self.slots_wanted


class ProposalItem(models.Model):
    """One provider in a proposal: who, for which role, at what cost and why."""

    class Role(models.TextChoices):
        SOCIAL_WORKER = "social_worker", _("社会工作者")
        VOLUNTEER = "volunteer", _("志愿者")
        CHARITY = "charity", _("慈善资源")

    class Response(models.TextChoices):
        PROPOSED = "proposed", _("待审批")
        WAITING = "waiting", _("待服务方确认")
        ACCEPTED = "accepted", _("已接受")
        DECLINED = "declined", _("已婉拒")
        RELEASED = "released", _("已释放")

    # Responses that hold the provider's capacity.
    HOLDING = (Response.PROPOSED, Response.WAITING, Response.ACCEPTED)

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="items")
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    social_worker = models.ForeignKey(
        "volunteers.SocialWorker",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    project = models.ForeignKey(
        "charity.ProjectPage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contract = models.ForeignKey(
        "marketplace.Contract",
        verbose_name=_("购买服务合同"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    provider_street = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cost = models.IntegerField(_("代价"), default=0)
    components = models.JSONField(_("代价构成"), default=dict, blank=True)
    reasons = models.JSONField(_("推荐理由"), default=list, blank=True)
    response = models.CharField(
        _("服务方答复"),
        max_length=16,
        choices=Response.choices,
        default=Response.PROPOSED,
        db_index=True,
    )
    responded_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    decline_reason = models.CharField(_("婉拒原因"), max_length=200, blank=True)
    disbursement = models.ForeignKey(
        "charity.Disbursement", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("方案成员")
        verbose_name_plural = _("方案成员")
        ordering = ["proposal", "role", "cost", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="volunteer", volunteer__isnull=False)
                    | Q(role="social_worker", social_worker__isnull=False)
                    | Q(role="charity", project__isnull=False)
                ),
                name="proposalitem_provider_matches_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} · {self.provider_name}"

    @property
    def provider_name(self) -> str:
        if self.volunteer_id:
            return self.volunteer.real_name
        if self.social_worker_id:
            return self.social_worker.real_name
        if self.project_id:
            return self.project.title
        return ""

    @property
    def provider_user_id(self) -> int | None:
        if self.volunteer_id:
            return self.volunteer.user_id
        if self.social_worker_id:
            return self.social_worker.user_id
        return None


class Decision(models.Model):
    """The audit trail of approvals: who decided what, when and why. Never changed."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("批准")
        REJECT = "reject", _("驳回")
        REDO = "redo", _("要求重新匹配")

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(_("决定"), max_length=16, choices=Action.choices)
    level = models.CharField(_("审批层级"), max_length=16, choices=Level.choices)
    by = models.ForeignKey(
        User, verbose_name=_("审批人"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("意见"), max_length=300, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("审批记录")
        verbose_name_plural = _("审批记录")
        ordering = ["at", "pk"]
        constraints = [
            # A proposal is decided once: the row lock makes the second caller see the first
            # decision, and this makes a slipped-through second insert fail.
            models.UniqueConstraint(fields=["proposal"], name="decision_one_per_proposal"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.at:%Y-%m-%d %H:%M}"
