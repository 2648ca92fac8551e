"""Writes of teams: forming, members, the task board, messages and the event log; the room's
command dispatcher, its rate limit and presence.

Every change appends a `TeamEvent` in the caller's transaction and broadcasts it after
commit, so HTTP, socket and Celery paths emit the same frames and a rolled-back change
is never announced."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.models import Contract, Need, Role, User
from marketplace.selectors.directory import user_scope
from volunteers import realtime
from volunteers.exceptions import (
    DomainError,
    InvalidState,
    NotPermitted,
    RateLimited,
    TooManyTasks,
)
from volunteers.models import (
    SocialWorker,
    Team,
    TeamEvent,
    TeamMember,
    TeamMessage,
    TeamTask,
    Volunteer,
)
from volunteers.models.teams import MESSAGE_MAX_CHARS
from volunteers.selectors.teams import team_agency_organisation_ids

__all__ = [
    "PRESENCE_TTL",
    "REPLAY_LIMIT",
    "TEAM_RATE_LIMIT",
    "TEAM_RATE_WINDOW",
    "team_close",
    "team_command",
    "team_create",
    "team_event_record",
    "team_events_since",
    "team_member_add",
    "team_member_can_join",
    "team_member_remove",
    "team_message_post",
    "team_presence_flush",
    "team_presence_online",
    "team_presence_touch",
    "team_presence_update",
    "team_rate_check",
    "team_replay",
    "team_task_claim",
    "team_task_complete",
    "team_task_create",
    "team_task_release",
]

# At most this many commands (socket frames or HTTP posts) per member per team per window.
TEAM_RATE_LIMIT = getattr(settings, "TEAM_RATE_LIMIT", 10)
TEAM_RATE_WINDOW = getattr(settings, "TEAM_RATE_WINDOW", 10)
# A connection count lives this long unless a ping refreshes it, so a crashed server's
# sockets stop counting as online on their own.
PRESENCE_TTL = 90
# At most one presence frame per team per this many seconds: a room of a thousand members
# connecting at once must not send a thousand lists to a thousand sockets.
PRESENCE_INTERVAL = 1
# A reconnect replays at most this many events; beyond that the page is reloaded.
REPLAY_LIMIT = 5000


def team_event_record(*, team: Team, kind: str, payload: dict) -> TeamEvent:
    """Append one event to the team's log and broadcast it after commit. The frame sent is
    `{"id": <event id>, "kind": kind, **payload}`; a reconnecting member replays the log
    from the last id it saw. Call inside the service's transaction."""
    event = TeamEvent.objects.create(team=team, kind=kind, payload=payload)
    frame = {"id": event.pk, "kind": kind, **payload}
    transaction.on_commit(lambda: realtime.publish_team_event(team.pk, frame))
    return event


# --- Frames ------------------------------------------------------------------------------


def _at(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _task_frame(task: TeamTask) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "status_display": str(task.get_status_display()),
        "due_at": _at(task.due_at),
        "claimed_by": str(task.claimed_by) if task.claimed_by_id else None,
        "claimed_by_id": task.claimed_by_id,
        "created_by_id": task.created_by_id,
    }


def _task_event(task: TeamTask, *, action: str, by: User) -> None:
    team_event_record(
        team=task.team,
        kind=TeamEvent.Kind.TASK,
        payload={
            "action": action,
            "task": _task_frame(task),
            "by": str(by),
            "by_id": by.pk,
        },
    )


def _member_event(team: Team, member: TeamMember, *, action: str, by: User) -> None:
    team_event_record(
        team=team,
        kind=TeamEvent.Kind.MEMBER,
        payload={
            "action": action,
            "user_id": member.user_id,
            "name": str(member.user),
            "role": member.role,
            "role_display": str(member.get_role_display()),
            "by_id": by.pk,
        },
    )


# --- Rules -------------------------------------------------------------------------------


def _lock_team(team: Team) -> Team:
    """The team's row, locked for this transaction, so membership and status changes of one
    team happen one at a time."""
    return Team.objects.select_for_update().select_related("leader").get(pk=team.pk)


def _require_active(team: Team) -> None:
    if team.status != Team.Status.ACTIVE:
        raise InvalidState(_("团队已结束，不能再操作。"))


def _member(team: Team, user: User) -> TeamMember | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return TeamMember.objects.filter(team=team, user=user, active=True).first()


def _require_member(team: Team, user: User) -> TeamMember:
    member = _member(team, user)
    if member is None:
        raise NotPermitted(_("您不是该团队的成员。"))
    return member


def _may_manage(team: Team, user: User) -> bool:
    if team.leader.user_id == user.pk:
        return True
    return team.organisation_id in team_agency_organisation_ids(user=user)


def _require_manager(team: Team, user: User) -> None:
    if not _may_manage(team, user):
        raise NotPermitted(_("只有带队社工或所属机构工作人员可以管理团队成员。"))


def _may_form(by: User, leader: SocialWorker, need: Need | None = None) -> bool:
    """Who may form a team under this leader: the leader, staff of the leader's agency or
    社工站, officials of its street or of the street of the need it serves (a street
    approving a match), and civil affairs (district approvals)."""
    if by.pk == leader.user_id:
        return True
    scope = user_scope(user=by)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    if leader.organisation_id in team_agency_organisation_ids(user=by):
        return True
    if not scope.has(Role.STREET_OFFICIAL):
        return False
    return leader.organisation.street_id in scope.street_ids or (
        need is not None and need.street_id in scope.street_ids
    )


def _volunteer_user(value: Volunteer | User) -> User:
    """The user of a volunteer given as a profile or as a user; refused without a profile."""
    if isinstance(value, Volunteer):
        return value.user
    if not Volunteer.objects.filter(user=value).exists():
        raise ValidationError(
            _("%(name)s 尚未注册为志愿者，不能以志愿者身份加入团队。") % {"name": value}
        )
    return value


# --- Teams and members -------------------------------------------------------------------


@transaction.atomic
def team_create(
    *,
    by: User,
    name: str,
    leader: SocialWorker,
    need: Need | None = None,
    purpose: str = "",
    volunteers: Iterable[Volunteer | User] = (),
    contract: Contract | None = None,
    social_workers: Iterable[SocialWorker] = (),
) -> Team:
    """Form a team led by a social worker, with volunteers (profiles or their users) and
    further social workers. Called by the team pages and by approved matches alike. The
    organisation is the leader's; a team delivering a purchased-service contract must belong
    to the contracted agency."""
    if not _may_form(by, leader, need):
        raise NotPermitted(_("只有带队社工本人、所属机构或所在街道的工作人员可以组建团队。"))
    if not leader.active:
        raise ValidationError({"leader": _("该社工已不在职，不能带队。")})
    if contract is not None and contract.agency_id != leader.organisation_id:
        raise ValidationError({"contract": _("带队社工不属于承接该合同的机构。")})
    team = Team(
        name=(name or "").strip(),
        organisation_id=leader.organisation_id,
        leader=leader,
        need=need,
        contract=contract,
        purpose=(purpose or "").strip(),
        created_by=by,
    )
    team.full_clean()
    team.save()
    members = [TeamMember(team=team, user_id=leader.user_id, role=TeamMember.Role.LEADER)]
    seen = {leader.user_id}
    for worker in social_workers:
        if worker.user_id in seen:
            continue
        if not worker.active:
            raise ValidationError(_("%(name)s 已不在职。") % {"name": worker.real_name})
        seen.add(worker.user_id)
        members.append(
            TeamMember(team=team, user_id=worker.user_id, role=TeamMember.Role.SOCIAL_WORKER)
        )
    for value in volunteers:
        user = _volunteer_user(value)
        if user.pk in seen:
            continue
        seen.add(user.pk)
        members.append(TeamMember(team=team, user=user, role=TeamMember.Role.VOLUNTEER))
    for member in members:
        member.full_clean(exclude=["team"], validate_constraints=False)
        member.save()
        _member_event(team, member, action="added", by=by)
    return team


@transaction.atomic
def team_member_add(*, team: Team, by: User, user: User, role: str) -> TeamMember:
    """Put a volunteer or a social worker in the team (or back in it, if removed before)."""
    team = _lock_team(team)
    _require_manager(team, by)
    _require_active(team)
    if role == TeamMember.Role.VOLUNTEER:
        _volunteer_user(user)
    elif role == TeamMember.Role.SOCIAL_WORKER:
        if not SocialWorker.objects.filter(user=user, active=True).exists():
            raise ValidationError(_("%(name)s 不是在职社工。") % {"name": user})
    else:
        raise ValidationError(_("只能添加志愿者或社工；带队社工在组建团队时确定。"))
    member = TeamMember.objects.filter(team=team, user=user).first()
    if member is not None and member.active:
        raise ValidationError(_("此人已在团队中。"))
    if member is None:
        member = TeamMember(team=team, user=user, role=role)
    member.role, member.active, member.removed_at = role, True, None
    member.full_clean(exclude=["team", "user"], validate_unique=False)
    member.save()
    _member_event(team, member, action="added", by=by)
    return member


def _member_out(team: Team, member: TeamMember, *, by: User) -> None:
    """Mark a member out of a locked team, put their claimed tasks back on the board, and
    after commit close their open sockets of this room."""
    member.active, member.removed_at = False, timezone.now()
    member.save(update_fields=["active", "removed_at"])
    for task in TeamTask.objects.select_for_update().filter(
        team=team, claimed_by_id=member.user_id, status=TeamTask.Status.CLAIMED
    ):
        task.status, task.claimed_by = TeamTask.Status.OPEN, None
        task.save(update_fields=["status", "claimed_by"])
        task.team = team
        _task_event(task, action="released", by=by)
    _member_event(team, member, action="removed", by=by)
    team_id, user_id = team.pk, member.user_id
    transaction.on_commit(lambda: realtime.publish_member_removed(team_id, user_id))


@transaction.atomic
def team_member_remove(*, team: Team, by: User, user: User) -> TeamMember:
    """Take a member out of the team. Their claimed tasks go back on the board, and after
    commit their open sockets of this room are closed."""
    team = _lock_team(team)
    _require_manager(team, by)
    member = TeamMember.objects.filter(team=team, user=user, active=True).first()
    if member is None:
        raise InvalidState(_("此人不在团队中。"))
    if member.role == TeamMember.Role.LEADER:
        raise InvalidState(_("不能移出带队社工。"))
    _member_out(team, member, by=by)
    return member


@transaction.atomic
def team_member_withdraw(*, team: Team, user: User, reason: str = "") -> TeamMember:
    """A member takes themself out of the team (e.g. declining a matched assignment). The
    leader cannot withdraw; the leader closes the team instead."""
    team = _lock_team(team)
    member = TeamMember.objects.filter(team=team, user=user, active=True).first()
    if member is None:
        raise InvalidState(_("您不在该团队中。"))
    if member.role == TeamMember.Role.LEADER:
        raise InvalidState(_("带队社工不能退出团队，只能结束团队。"))
    _member_out(team, member, by=user)
    return member


@transaction.atomic
def team_members_assign(
    *,
    team: Team,
    by: User,
    volunteers: Iterable[Volunteer] = (),
    social_workers: Iterable[SocialWorker] = (),
) -> list[TeamMember]:
    """Put matched people in the need's existing team (a later proposal filling slots a
    decline re-opened). Allowed to whoever may form a team for that need."""
    team = _lock_team(team)
    if not _may_form(by, team.leader, team.need):
        raise NotPermitted(_("只有带队社工本人、所属机构或所在街道的工作人员可以组建团队。"))
    _require_active(team)
    wanted = [(w.user_id, TeamMember.Role.SOCIAL_WORKER) for w in social_workers] + [
        (v.user_id, TeamMember.Role.VOLUNTEER) for v in volunteers
    ]
    added = []
    for user_id, role in wanted:
        member = TeamMember.objects.filter(team=team, user_id=user_id).first()
        if member is not None and member.active:
            continue
        if member is None:
            member = TeamMember(team=team, user_id=user_id, role=role)
        member.role, member.active, member.removed_at = role, True, None
        member.save()
        _member_event(team, member, action="added", by=by)
        added.append(member)
    return added


@transaction.atomic
def team_close(*, team: Team, by: User) -> Team:
    """End the team's work. The room stays readable; no more commands are accepted."""
    team = _lock_team(team)
    _require_manager(team, by)
    _require_active(team)
    team.status, team.closed_at = Team.Status.CLOSED, timezone.now()
    team.save(update_fields=["status", "closed_at"])
    team_event_record(
        team=team, kind=TeamEvent.Kind.TEAM, payload={"action": "closed", "by_id": by.pk}
    )
    return team


# --- Task board --------------------------------------------------------------------------


def _lock_task(task: TeamTask) -> TeamTask:
    return (
        TeamTask.objects.select_for_update(of=("self",))
        .select_related("team", "team__leader", "claimed_by")
        .get(pk=task.pk)
    )


@transaction.atomic
def team_task_create(
    *,
    team: Team,
    by: User,
    title: str,
    description: str = "",
    due_at: datetime | None = None,
) -> TeamTask:
    """Put a task on the team's board; any active member may."""
    team = Team.objects.select_related("leader").filter(pk=team.pk).first()
    if team is None:
        raise NotPermitted(_("您不是该团队的成员。"))
    _require_active(team)
    _require_member(team, by)
    task = TeamTask(
        team=team,
        title=(title or "").strip(),
        description=(description or "").strip(),
        due_at=due_at,
        created_by=by,
    )
    task.full_clean()
    task.save()
    _task_event(task, action="created", by=by)
    return task


@transaction.atomic
def team_task_claim(*, task: TeamTask, by: User) -> TeamTask:
    """A member takes an open task. The task row is locked, so of two members racing for
    one task exactly one gets it; a volunteer's own limit of concurrent tasks holds (their
    row is locked too, so two claims at once cannot both slip under it)."""
    task = _lock_task(task)
    _require_active(task.team)
    _require_member(task.team, by)
    if task.status == TeamTask.Status.CLAIMED:
        raise InvalidState(_("该任务已被 %(name)s 认领。") % {"name": task.claimed_by})
    if task.status == TeamTask.Status.DONE:
        raise InvalidState(_("该任务已完成。"))
    volunteer = Volunteer.objects.select_for_update().filter(user=by).first()
    if volunteer is not None:
        held = TeamTask.objects.filter(claimed_by=by, status=TeamTask.Status.CLAIMED).count()
        if held >= volunteer.max_concurrent:
            raise TooManyTasks(
                _("您已认领 %(n)s 项未完成的任务，达到您设定的同时承担任务数。") % {"n": held}
            )
    task.status, task.claimed_by = TeamTask.Status.CLAIMED, by
    task.save(update_fields=["status", "claimed_by"])
    _task_event(task, action="claimed", by=by)
    return task


@transaction.atomic
def team_task_release(*, task: TeamTask, by: User) -> TeamTask:
    """Put a claimed task back on the board: its claimer or the leader."""
    task = _lock_task(task)
    _require_active(task.team)
    _require_member(task.team, by)
    if task.status != TeamTask.Status.CLAIMED:
        raise InvalidState(_("只有进行中的任务可以放回。"))
    if by.pk not in (task.claimed_by_id, task.team.leader.user_id):
        raise NotPermitted(_("不能放回他人认领的任务。"))
    task.status, task.claimed_by = TeamTask.Status.OPEN, None
    task.save(update_fields=["status", "claimed_by"])
    _task_event(task, action="released", by=by)
    return task


@transaction.atomic
def team_task_complete(*, task: TeamTask, by: User) -> TeamTask:
    """Mark a claimed task done: its claimer or the leader."""
    task = _lock_task(task)
    _require_active(task.team)
    _require_member(task.team, by)
    if task.status == TeamTask.Status.DONE:
        raise InvalidState(_("该任务已完成。"))
    if task.status == TeamTask.Status.OPEN:
        raise InvalidState(_("请先认领该任务。"))
    if by.pk not in (task.claimed_by_id, task.team.leader.user_id):
        raise NotPermitted(_("不能完成他人认领的任务。"))
    task.status, task.completed_at = TeamTask.Status.DONE, timezone.now()
    task.save(update_fields=["status", "completed_at"])
    _task_event(task, action="completed", by=by)
    return task


# --- Messages and the log ----------------------------------------------------------------


@transaction.atomic
def team_message_post(*, team: Team, by: User, body: str) -> TeamMessage:
    """Post a message to the room (1–1000 characters after trimming)."""
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise ValidationError({"body": _("消息不能为空。")})
    if len(body) > MESSAGE_MAX_CHARS:
        raise ValidationError(
            {
                "body": _("消息不能超过 %(max)s 个字（当前 %(n)s 个）。")
                % {"max": MESSAGE_MAX_CHARS, "n": len(body)}
            }
        )
    # One read answers both "is the team active" and "is the author a member": messages are
    # the room's hottest path.
    status = (
        TeamMember.objects.filter(team_id=team.pk, user_id=by.pk, active=True)
        .values_list("team__status", flat=True)
        .first()
    )
    if status is None:
        raise NotPermitted(_("您不是该团队的成员。"))
    if status != Team.Status.ACTIVE:
        raise InvalidState(_("团队已结束，不能再操作。"))
    message = TeamMessage.objects.create(team=team, author=by, body=body)
    team_event_record(
        team=team,
        kind=TeamEvent.Kind.MESSAGE,
        payload={
            "message": {
                "id": message.pk,
                "author": str(by),
                "author_id": by.pk,
                "body": body,
                "at": _at(message.created_at),
            }
        },
    )
    return message


def _frames(events: Iterable[TeamEvent]) -> list[dict]:
    return [{"id": e.pk, "kind": e.kind, **e.payload} for e in events]


def team_events_since(*, team: Team, user: User, since_id: int, limit: int = 200) -> list[dict]:
    """The room's frames after `since_id`, oldest first, at most `limit` (members only):
    what a member who was away has missed."""
    _require_member(team, user)
    events = TeamEvent.objects.filter(team=team, pk__gt=since_id).order_by("pk")[:limit]
    return _frames(events)


def team_replay(*, team_id: int, user: User, since_id: int) -> list[dict]:
    """Everything a reconnecting member missed since `since_id` (up to `REPLAY_LIMIT`)."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return []
    return team_events_since(team=team, user=user, since_id=since_id, limit=REPLAY_LIMIT)


def team_member_can_join(*, team_id: int, user: User) -> bool:
    """Whether the user may open the room: an active member of an active team."""
    if not getattr(user, "is_authenticated", False):
        return False
    return TeamMember.objects.filter(
        team_id=team_id, user=user, active=True, team__status=Team.Status.ACTIVE
    ).exists()


# --- Rate limit --------------------------------------------------------------------------


def team_rate_check(*, team_id: int, user_id: int) -> None:
    """Count one command of a member in a team; RateLimited beyond `TEAM_RATE_LIMIT` per
    `TEAM_RATE_WINDOW` seconds. The counter lives in the shared cache (Redis in
    production), so every server process counts the same member together."""
    window = int(time.time() // TEAM_RATE_WINDOW)
    key = f"team-rate:{team_id}:{user_id}:{window}"
    # One round trip in the common case (the window's counter exists); `add` starts it.
    try:
        count = cache.incr(key)
    except ValueError:
        # If `add` loses, another process started the window a moment ago.
        count = 1 if cache.add(key, 1, timeout=TEAM_RATE_WINDOW * 2) else cache.incr(key)
    if count > TEAM_RATE_LIMIT:
        raise RateLimited()


# --- Presence ----------------------------------------------------------------------------


def _presence_key(team_id: int, user_id: int) -> str:
    return f"team-online:{team_id}:{user_id}"


def team_presence_online(*, team_id: int) -> list[int]:
    """Ids of the team's active members with at least one open socket."""
    user_ids = list(
        TeamMember.objects.filter(team_id=team_id, active=True)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )
    counts = cache.get_many([_presence_key(team_id, uid) for uid in user_ids])
    return [uid for uid in user_ids if (counts.get(_presence_key(team_id, uid)) or 0) > 0]


def team_presence_flush(*, team_id: int) -> bool:
    """Broadcast who is online, unless a presence frame went out in the last
    `PRESENCE_INTERVAL`; in that case that frame already carried every change made before
    it, and the caller's own change is covered. Returns whether a frame was sent."""
    if not cache.add(f"team-presence-gate:{team_id}", 1, timeout=PRESENCE_INTERVAL):
        return False
    realtime.publish_team_event(
        team_id, {"kind": "presence", "online": team_presence_online(team_id=team_id)}
    )
    return True


def team_presence_update(*, team_id: int, user: User, online: bool) -> bool:
    """Count one socket of a member opening (`online`) or closing, and broadcast the room's
    online list (no id: presence is not logged). Returns False when the broadcast was
    deferred: the caller calls `team_presence_flush` again after `PRESENCE_INTERVAL`."""
    key = _presence_key(team_id, user.pk)
    if online:
        cache.add(key, 0, timeout=PRESENCE_TTL)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=PRESENCE_TTL)
        cache.touch(key, timeout=PRESENCE_TTL)
    else:
        try:
            remaining = cache.decr(key)
        except ValueError:
            remaining = 0
        if remaining <= 0:
            cache.delete(key)
    return team_presence_flush(team_id=team_id)


def team_presence_touch(*, team_id: int, user: User) -> None:
    """Keep a connected member counted as online (the room's pings call this)."""
    key = _presence_key(team_id, user.pk)
    if not cache.touch(key, timeout=PRESENCE_TTL):
        cache.add(key, 1, timeout=PRESENCE_TTL)


# --- The room's commands -----------------------------------------------------------------


def _bad(message: str) -> DomainError:
    return DomainError(message, code="bad_command")


def _int_field(command: dict, name: str, *, minimum: int) -> int:
    value = command.get(name)
    # bool is an int in Python; a client sending true is malformed.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(_("字段 %(name)s 应为不小于 %(min)s 的整数。") % {"name": name, "min": minimum})
    return value


def _str_field(command: dict, name: str, *, required: bool = True) -> str:
    if name not in command and not required:
        return ""
    value = command.get(name)
    if not isinstance(value, str):
        raise _bad(_("字段 %(name)s 应为文本。") % {"name": name})
    return value


# Each command's allowed fields (besides "cmd"), so unexpected keys are refused.
_COMMAND_FIELDS = {
    "message": {"body"},
    "task.create": {"title", "description"},
    "task.claim": {"task"},
    "task.release": {"task"},
    "task.complete": {"task"},
    "sync": {"since"},
    "ping": set(),
}
_TASK_SERVICES = {
    "task.claim": team_task_claim,
    "task.release": team_task_release,
    "task.complete": team_task_complete,
}


def _validation_to_domain(exc: ValidationError) -> DomainError:
    return DomainError("；".join(str(m) for m in exc.messages), code="invalid")


def team_command(*, team_id: int, user: User, command: dict) -> dict | None:
    """Run one command from the room's socket. The shape is checked strictly; the work is
    done by the same services as the pages, which broadcast the result to the whole room
    (the sender included). Returns a direct reply for `sync` and `ping`, else None."""
    if not isinstance(command, dict):
        raise _bad(_("指令应为 JSON 对象。"))
    cmd = command.get("cmd")
    if not isinstance(cmd, str):
        raise _bad(_("指令缺少 cmd 字段。"))
    if cmd not in _COMMAND_FIELDS:
        raise DomainError(_("未知指令：%(cmd)s") % {"cmd": cmd[:40]}, code="unknown_command")
    extra = set(command) - {"cmd"} - _COMMAND_FIELDS[cmd]
    if extra:
        raise _bad(_("指令含有未知字段：%(f)s") % {"f": "、".join(sorted(extra))[:80]})
    team_rate_check(team_id=team_id, user_id=user.pk)
    if cmd == "ping":
        team_presence_touch(team_id=team_id, user=user)
        return {"kind": "pong"}
    # Only the id is needed here: every service re-reads (and locks) what its rule depends
    # on, and membership is checked by each of them, so a missing team is refused there.
    team = Team(pk=team_id)
    try:
        if cmd == "sync":
            since = _int_field(command, "since", minimum=0)
            events = team_events_since(team=team, user=user, since_id=since, limit=200)
            return {"kind": "sync", "events": events, "more": len(events) == 200}
        if cmd == "message":
            team_message_post(team=team, by=user, body=_str_field(command, "body"))
        elif cmd == "task.create":
            team_task_create(
                team=team,
                by=user,
                title=_str_field(command, "title"),
                description=_str_field(command, "description", required=False),
            )
        else:
            task_id = _int_field(command, "task", minimum=1)
            task = TeamTask.objects.filter(pk=task_id, team=team).first()
            if task is None:
                raise DomainError(_("该任务不存在。"), code="no_task")
            _TASK_SERVICES[cmd](task=task, by=user)
    except ValidationError as exc:
        raise _validation_to_domain(exc) from exc
    return None
