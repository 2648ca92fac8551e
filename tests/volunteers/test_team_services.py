"""Team services: who may form a team and manage it, the ordered event log, the task board
(including a claim race on PostgreSQL), messages, the command dispatcher, the rate limit
and presence."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from marketplace.models import Role
from tests import factories as f
from volunteers.exceptions import (
    DomainError,
    InvalidState,
    NotPermitted,
    RateLimited,
    TooManyTasks,
)
from volunteers.models import Team, TeamEvent, TeamMember, TeamMessage, TeamTask
from volunteers.services.teams import (
    TEAM_RATE_LIMIT,
    team_close,
    team_command,
    team_create,
    team_events_since,
    team_member_add,
    team_member_can_join,
    team_member_remove,
    team_message_post,
    team_presence_online,
    team_presence_update,
    team_rate_check,
    team_task_claim,
    team_task_complete,
    team_task_create,
    team_task_release,
)

_seq = itertools.count(1)

# A fixed instant well inside one rate-limit window, so slow runs do not cross into the next.
RATE_WINDOW_START = datetime(2025, 6, 2, 9, 0, 3, tzinfo=UTC)


def new_volunteer(world, *, community=None, name=None, **extra):
    """A user with the volunteer role in the street's 联合会 and a volunteer profile."""
    n = next(_seq)
    user = f.user(f"tv{n}", Role.VOLUNTEER, world.federation)
    user.display_name = name or f"志愿者{n}"
    user.save(update_fields=["display_name"])
    f.volunteer(user, community or world.community, real_name=user.display_name, **extra)
    return user


def build_team(world, *, volunteers: int = 2, **extra) -> SimpleNamespace:
    """A team of the street's 社工站 led by its social worker, with volunteers."""
    leader_user = world.users[Role.SOCIAL_WORKER]
    leader = getattr(leader_user, "social_worker", None) or f.social_worker(
        leader_user, world.station, real_name="李社工"
    )
    members = [new_volunteer(world, **extra) for _ in range(volunteers)]
    team = team_create(
        by=leader_user,
        name="明光路助老服务队",
        leader=leader,
        purpose="独居老人每周探访",
        volunteers=members,
    )
    return SimpleNamespace(team=team, leader=leader, leader_user=leader_user, volunteers=members)


@pytest.fixture
def t(world):
    return build_team(world)


# --- Forming a team ----------------------------------------------------------------------


@pytest.mark.django_db
def test_leader_forms_a_team_with_volunteers_and_each_join_is_logged(world):
    built = build_team(world, volunteers=2)
    team = built.team
    assert team.organisation == world.station
    roles = dict(TeamMember.objects.filter(team=team).values_list("user_id", "role"))
    assert roles[built.leader_user.pk] == TeamMember.Role.LEADER
    assert all(roles[v.pk] == TeamMember.Role.VOLUNTEER for v in built.volunteers)
    events = list(team.events.order_by("pk"))
    assert [e.kind for e in events] == ["member"] * 3
    assert [e.payload["user_id"] for e in events] == [
        built.leader_user.pk,
        *[v.pk for v in built.volunteers],
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, allowed",
    [
        ("leader", True),
        ("station_staff", True),
        (Role.STREET_OFFICIAL, True),
        (Role.CIVIL_AFFAIRS_OFFICIAL, True),
        ("street_official2", False),
        (Role.AGENCY_STAFF, False),  # staff of another agency
        (Role.VOLUNTEER, False),
        (Role.CHARITY_STAFF, False),
        (Role.APPLICANT, False),
    ],
)
def test_who_may_form_a_team(world, who, allowed):
    leader = f.social_worker(world.users[Role.SOCIAL_WORKER], world.station)
    by = {
        "leader": world.users[Role.SOCIAL_WORKER],
        "station_staff": f.user("zhanwu", Role.AGENCY_STAFF, world.station),
        "street_official2": world.street_official2,
    }.get(who) or world.users[who]
    if allowed:
        assert team_create(by=by, name="队", leader=leader).pk
    else:
        with pytest.raises(NotPermitted):
            team_create(by=by, name="队", leader=leader)
        assert not Team.objects.exists()


@pytest.mark.django_db
def test_bad_team_input_is_refused_and_nothing_is_saved(world):
    leader_user = world.users[Role.SOCIAL_WORKER]
    leader = f.social_worker(leader_user, world.station)
    no_profile = f.user("meiyouzhuce", Role.VOLUNTEER, world.federation)
    with pytest.raises(ValidationError, match="尚未注册为志愿者"):
        team_create(by=leader_user, name="队", leader=leader, volunteers=[no_profile])
    with pytest.raises(ValidationError):
        team_create(by=leader_user, name="   ", leader=leader)
    with pytest.raises(ValidationError):
        team_create(by=leader_user, name="名" * 81, leader=leader)
    leader.active = False
    leader.save()
    with pytest.raises(ValidationError, match="不在职"):
        team_create(by=leader_user, name="队", leader=leader)
    assert not Team.objects.exists()
    assert not TeamMember.objects.exists()
    assert not TeamEvent.objects.exists()


# --- Members -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_leader_adds_and_removes_members(world, t, django_capture_on_commit_callbacks):
    newcomer = new_volunteer(world)
    with django_capture_on_commit_callbacks() as callbacks:
        member = team_member_add(
            team=t.team, by=t.leader_user, user=newcomer, role=TeamMember.Role.VOLUNTEER
        )
    assert member.active and len(callbacks) == 1
    gone = t.volunteers[0]
    task = team_task_create(team=t.team, by=t.leader_user, title="买菜")
    team_task_claim(task=task, by=gone)
    with django_capture_on_commit_callbacks() as callbacks:
        removed = team_member_remove(team=t.team, by=t.leader_user, user=gone)
    assert not removed.active and removed.removed_at is not None
    # the claimed task goes back on the board, a member event and the socket close follow
    task.refresh_from_db()
    assert task.status == TeamTask.Status.OPEN and task.claimed_by is None
    kinds = [e.kind for e in t.team.events.order_by("-pk")[:2]]
    assert kinds == ["member", "task"]
    assert len(callbacks) == 3
    assert not team_member_can_join(team_id=t.team.pk, user=gone)
    # and back again: the same row is reactivated
    again = team_member_add(team=t.team, by=t.leader_user, user=gone, role="volunteer")
    assert again.pk == removed.pk and again.active


@pytest.mark.django_db
def test_member_rules_are_enforced(world, t):
    volunteer = t.volunteers[0]
    other = new_volunteer(world)
    with pytest.raises(NotPermitted):
        team_member_add(team=t.team, by=volunteer, user=other, role="volunteer")
    with pytest.raises(NotPermitted):
        team_member_remove(team=t.team, by=world.users[Role.AGENCY_STAFF], user=volunteer)
    with pytest.raises(InvalidState, match="带队社工"):
        team_member_remove(team=t.team, by=t.leader_user, user=t.leader_user)
    with pytest.raises(ValidationError, match="已在团队中"):
        team_member_add(team=t.team, by=t.leader_user, user=volunteer, role="volunteer")
    with pytest.raises(ValidationError):
        team_member_add(team=t.team, by=t.leader_user, user=other, role="leader")
    applicant = world.users[Role.APPLICANT]
    with pytest.raises(ValidationError, match="尚未注册为志愿者"):
        team_member_add(team=t.team, by=t.leader_user, user=applicant, role="volunteer")
    with pytest.raises(InvalidState):
        team_member_remove(team=t.team, by=t.leader_user, user=applicant)
    assert TeamMember.objects.filter(team=t.team, active=True).count() == 3


@pytest.mark.django_db
def test_closed_team_accepts_nothing(world, t):
    with pytest.raises(NotPermitted):
        team_close(team=t.team, by=t.volunteers[0])
    team_close(team=t.team, by=t.leader_user)
    t.team.refresh_from_db()
    assert t.team.status == Team.Status.CLOSED and t.team.closed_at
    assert not team_member_can_join(team_id=t.team.pk, user=t.volunteers[0])
    with pytest.raises(InvalidState):
        team_message_post(team=t.team, by=t.volunteers[0], body="还在吗")
    with pytest.raises(InvalidState):
        team_task_create(team=t.team, by=t.leader_user, title="买菜")
    with pytest.raises(InvalidState):
        team_close(team=t.team, by=t.leader_user)


# --- The log, tasks and messages ---------------------------------------------------------


@pytest.mark.django_db
def test_events_are_logged_in_order_and_broadcast_after_commit(
    world, t, django_capture_on_commit_callbacks
):
    volunteer = t.volunteers[0]
    start = t.team.events.order_by("pk").last().pk
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = team_message_post(team=t.team, by=volunteer, body="  我到了  ")
        task = team_task_create(team=t.team, by=t.leader_user, title="送药", description="")
        team_task_claim(task=task, by=volunteer)
        team_task_complete(task=task, by=volunteer)
    assert len(callbacks) == 4
    assert message.body == "我到了"
    frames = team_events_since(team=t.team, user=volunteer, since_id=start)
    assert [fr["kind"] for fr in frames] == ["message", "task", "task", "task"]
    assert [fr.get("action") for fr in frames[1:]] == ["created", "claimed", "completed"]
    assert frames == sorted(frames, key=lambda fr: fr["id"])
    assert frames[0]["message"]["body"] == "我到了"
    assert frames[0]["message"]["author_id"] == volunteer.pk
    assert frames[3]["task"]["status"] == "done"
    # the replay is for members only, and pages by the limit
    assert len(team_events_since(team=t.team, user=volunteer, since_id=start, limit=2)) == 2
    with pytest.raises(NotPermitted):
        team_events_since(team=t.team, user=world.users[Role.VOLUNTEER], since_id=0)


@pytest.mark.django_db
def test_rolled_back_change_is_neither_logged_nor_broadcast(
    world, t, django_capture_on_commit_callbacks
):
    before = TeamEvent.objects.count()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        team_task_create(team=t.team, by=t.leader_user, title="")
    assert TeamEvent.objects.count() == before and callbacks == []


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["", "   \n ", "字" * 1001, None, 5])
def test_bad_messages_are_refused(world, t, body):
    with pytest.raises(ValidationError) as exc:
        team_message_post(team=t.team, by=t.volunteers[0], body=body)
    assert "消息" in str(exc.value)
    assert not TeamMessage.objects.exists()


@pytest.mark.django_db
def test_longest_message_passes_and_outsiders_cannot_post(world, t):
    assert len(team_message_post(team=t.team, by=t.volunteers[0], body="字" * 1000).body) == 1000
    with pytest.raises(NotPermitted):
        team_message_post(team=t.team, by=world.users[Role.VOLUNTEER], body="你好")
    assert TeamMessage.objects.count() == 1


@pytest.mark.django_db
def test_someone_elses_task_cannot_be_completed_or_released(world, t):
    first, second = t.volunteers
    task = team_task_create(team=t.team, by=t.leader_user, title="陪同就医")
    team_task_claim(task=task, by=first)
    with pytest.raises(NotPermitted, match="不能完成他人认领的任务"):
        team_task_complete(task=task, by=second)
    with pytest.raises(NotPermitted):
        team_task_release(task=task, by=second)
    with pytest.raises(InvalidState, match="已被"):
        team_task_claim(task=task, by=second)
    task.refresh_from_db()
    assert task.status == TeamTask.Status.CLAIMED and task.claimed_by == first
    # the leader may release or complete any task
    team_task_release(task=task, by=t.leader_user)
    with pytest.raises(InvalidState, match="请先认领"):
        team_task_complete(task=task, by=first)
    team_task_claim(task=task, by=second)
    team_task_complete(task=task, by=t.leader_user)
    task.refresh_from_db()
    assert task.status == TeamTask.Status.DONE and task.completed_at
    with pytest.raises(InvalidState):
        team_task_claim(task=task, by=first)


@pytest.mark.django_db
def test_a_volunteer_claims_no_more_than_their_limit(world):
    built = build_team(world, volunteers=1, max_concurrent=1)
    volunteer = built.volunteers[0]
    one = team_task_create(team=built.team, by=built.leader_user, title="一")
    two = team_task_create(team=built.team, by=built.leader_user, title="二")
    team_task_claim(task=one, by=volunteer)
    with pytest.raises(TooManyTasks):
        team_task_claim(task=two, by=volunteer)
    two.refresh_from_db()
    assert two.status == TeamTask.Status.OPEN
    team_task_complete(task=one, by=volunteer)
    team_task_claim(task=two, by=volunteer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_racing_for_one_task_only_one_wins(world):
    built = build_team(world, volunteers=8)
    task = team_task_create(team=built.team, by=built.leader_user, title="抢单")
    barrier = threading.Barrier(len(built.volunteers))

    def attempt(user):
        try:
            barrier.wait(timeout=5)
            team_task_claim(task=task, by=user)
            return "ok"
        except InvalidState:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(built.volunteers)) as pool:
        outcomes = list(pool.map(attempt, built.volunteers))
    assert outcomes.count("ok") == 1
    assert outcomes.count("refused") == len(built.volunteers) - 1
    task.refresh_from_db()
    assert task.status == TeamTask.Status.CLAIMED
    assert built.team.events.filter(kind="task", payload__action="claimed").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_volunteer_racing_for_many_tasks_stays_within_the_limit(world):
    built = build_team(world, volunteers=1, max_concurrent=2)
    volunteer = built.volunteers[0]
    tasks = [
        team_task_create(team=built.team, by=built.leader_user, title=f"{i}") for i in range(6)
    ]
    barrier = threading.Barrier(len(tasks))

    def attempt(task):
        try:
            barrier.wait(timeout=5)
            team_task_claim(task=task, by=volunteer)
            return "ok"
        except TooManyTasks:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        outcomes = list(pool.map(attempt, tasks))
    assert outcomes.count("ok") == 2
    assert TeamTask.objects.filter(claimed_by=volunteer).count() == 2


# --- Commands, rate limit, presence ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command, code",
    [
        ([1, 2], "bad_command"),
        ("message", "bad_command"),
        ({}, "bad_command"),
        ({"cmd": 3}, "bad_command"),
        ({"cmd": "dance"}, "unknown_command"),
        ({"cmd": "message"}, "bad_command"),
        ({"cmd": "message", "body": 42}, "bad_command"),
        ({"cmd": "message", "body": "嗨", "extra": 1}, "bad_command"),
        ({"cmd": "message", "body": "   "}, "invalid"),
        ({"cmd": "task.create", "title": ["x"]}, "bad_command"),
        ({"cmd": "task.create", "title": ""}, "invalid"),
        ({"cmd": "task.claim", "task": "1"}, "bad_command"),
        ({"cmd": "task.claim", "task": True}, "bad_command"),
        ({"cmd": "task.claim", "task": 0}, "bad_command"),
        ({"cmd": "task.claim", "task": 999999}, "no_task"),
        ({"cmd": "sync", "since": -1}, "bad_command"),
        ({"cmd": "sync", "since": 1.5}, "bad_command"),
    ],
)
def test_bad_commands_get_codes_and_change_nothing(world, t, command, code):
    before = TeamEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        team_command(team_id=t.team.pk, user=t.volunteers[0], command=command)
    assert exc.value.code == code
    assert str(exc.value.message)
    assert TeamEvent.objects.count() == before


@pytest.mark.django_db
def test_commands_call_the_services(world, t):
    volunteer = t.volunteers[0]
    run = lambda command: team_command(team_id=t.team.pk, user=volunteer, command=command)  # noqa: E731
    start = t.team.events.order_by("pk").last().pk
    assert run({"cmd": "ping"}) == {"kind": "pong"}
    assert run({"cmd": "message", "body": "收到"}) is None
    assert run({"cmd": "task.create", "title": "买药", "description": "下午"}) is None
    task = TeamTask.objects.get(team=t.team)
    assert run({"cmd": "task.claim", "task": task.pk}) is None
    assert run({"cmd": "task.complete", "task": task.pk}) is None
    reply = run({"cmd": "sync", "since": start})
    assert reply["kind"] == "sync" and reply["more"] is False
    assert [e["kind"] for e in reply["events"]] == ["message", "task", "task", "task"]
    # a task of another team is not reachable through this room
    other = build_team(world, volunteers=0)
    foreign = team_task_create(team=other.team, by=other.leader_user, title="别队")
    with pytest.raises(DomainError) as exc:
        run({"cmd": "task.claim", "task": foreign.pk})
    assert exc.value.code == "no_task"


@pytest.mark.django_db
@time_machine.travel(RATE_WINDOW_START, tick=False)
def test_rate_limit_per_member_per_team(world, t):
    a, b = t.volunteers
    for _ in range(TEAM_RATE_LIMIT):
        team_rate_check(team_id=t.team.pk, user_id=a.pk)
    with pytest.raises(RateLimited) as exc:
        team_rate_check(team_id=t.team.pk, user_id=a.pk)
    assert exc.value.code == "rate_limited"
    team_rate_check(team_id=t.team.pk, user_id=b.pk)  # another member is not affected
    team_rate_check(team_id=t.team.pk + 1, user_id=a.pk)  # nor another team
    with pytest.raises(RateLimited):
        team_command(team_id=t.team.pk, user=a, command={"cmd": "message", "body": "刷屏"})
    assert not TeamMessage.objects.exists()


@pytest.mark.django_db
def test_presence_counts_connections(world, t):
    a, b = t.volunteers
    team_id = t.team.pk
    assert team_presence_update(team_id=team_id, user=a, online=True) is True
    # a second change within the interval is deferred to a later flush
    assert team_presence_update(team_id=team_id, user=a, online=True) is False
    team_presence_update(team_id=team_id, user=b, online=True)
    assert team_presence_online(team_id=team_id) == [a.pk, b.pk]
    team_presence_update(team_id=team_id, user=a, online=False)
    assert team_presence_online(team_id=team_id) == [a.pk, b.pk]  # a has a second tab
    team_presence_update(team_id=team_id, user=a, online=False)
    team_presence_update(team_id=team_id, user=a, online=False)  # extra close: no harm
    assert team_presence_online(team_id=team_id) == [b.pk]
    team_member_remove(team=t.team, by=t.leader_user, user=b)
    assert team_presence_online(team_id=team_id) == []
