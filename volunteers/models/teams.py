"""社工 + 志愿者 teams: a social worker leading volunteers for one need or one purchased-service
contract, with a task board, messages and an ordered event log.

Every change in a team appends a `TeamEvent` in the same transaction; the room broadcasts
events after commit and a member who reconnects asks for those after the last id it saw,
so nothing is lost between a write and a reconnect."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.models import Need, Organisation, User

__all__ = ["Team", "TeamEvent", "TeamMember", "TeamMessage", "TeamTask"]

MESSAGE_MAX_CHARS = 1000


class Team(models.Model):
    """A team serving one need, or delivering one purchased-service contract (its confirmed
    service records then count as delivered units)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("服务中")
        CLOSED = "closed", _("已结束")

    name = models.CharField(_("团队名称"), max_length=80)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("负责机构"),
        on_delete=models.PROTECT,
        related_name="teams",
    )
    leader = models.ForeignKey(
        "volunteers.SocialWorker",
        verbose_name=_("带队社工"),
        on_delete=models.PROTECT,
        related_name="led_teams",
    )
    need = models.ForeignKey(
        Need,
        verbose_name=_("服务需求"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
    )
    contract = models.ForeignKey(
        "marketplace.Contract",
        verbose_name=_("购买服务合同"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
    )
    purpose = models.CharField(_("服务内容"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("组建时间"), auto_now_add=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("社工+志愿者团队")
        verbose_name_plural = _("社工+志愿者团队")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("team-room", args=[self.pk])


class TeamMember(models.Model):
    """A person in a team. Removing a member keeps the row (history) with `active` off."""

    class Role(models.TextChoices):
        LEADER = "leader", _("带队社工")
        SOCIAL_WORKER = "social_worker", _("社工")
        VOLUNTEER = "volunteer", _("志愿者")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="team_memberships")
    role = models.CharField(_("团队角色"), max_length=16, choices=Role.choices)
    active = models.BooleanField(_("在队"), default=True, db_index=True)
    joined_at = models.DateTimeField(_("加入时间"), auto_now_add=True)
    removed_at = models.DateTimeField(_("移出时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("团队成员")
        verbose_name_plural = _("团队成员")
        ordering = ["team_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="team_member_unique",
                violation_error_message=_("此人已在团队中。"),
            ),
            models.UniqueConstraint(
                fields=["team"],
                condition=Q(role="leader", active=True),
                name="team_one_active_leader",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} · {self.user}"


class TeamTask(models.Model):
    """A card on the team's task board: open → claimed → done."""

    class Status(models.TextChoices):
        OPEN = "open", _("待认领")
        CLAIMED = "claimed", _("进行中")
        DONE = "done", _("已完成")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("任务"), max_length=80)
    description = models.CharField(_("说明"), max_length=500, blank=True)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    claimed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="claimed_team_tasks"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("团队任务")
        verbose_name_plural = _("团队任务")
        ordering = ["team_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", claimed_by__isnull=True)
                | (~Q(status="open") & Q(claimed_by__isnull=False)),
                name="team_task_claimed_has_claimer",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TeamMessage(models.Model):
    """A message in the team room."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("内容"), max_length=MESSAGE_MAX_CHARS)
    created_at = models.DateTimeField(_("发送时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("团队消息")
        verbose_name_plural = _("团队消息")
        ordering = ["team_id", "pk"]

    def __str__(self) -> str:
        return self.body[:20]


class TeamEvent(models.Model):
    """The team's ordered log: what the room broadcast, kept for members who reconnect.
    `payload` is exactly the frame sent to sockets (without the id, which is the row's)."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("消息")
        TASK = "task", _("任务")
        MEMBER = "member", _("成员")
        CHECKIN = "checkin", _("签到")
        TEAM = "team", _("团队")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("团队动态")
        verbose_name_plural = _("团队动态")
        ordering = ["team_id", "pk"]
        indexes = [models.Index(fields=["team", "id"], name="team_event_since")]

    def __str__(self) -> str:
        return f"{self.team_id} · {self.kind} · {self.pk}"
