"""The team room socket through the real ASGI application (origin check, session auth,
routing). In the PostgreSQL/Redis run the channel layer is Redis pub/sub."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application
from marketplace.models import Role
from tests.volunteers.test_team_services import build_team
from volunteers.services.teams import (
    TEAM_RATE_LIMIT,
    team_member_remove,
    team_message_post,
    team_task_create,
)

pytestmark = pytest.mark.django_db(transaction=True)

# A fixed instant well inside one rate-limit window, so slow runs do not cross into the next.
RATE_WINDOW_START = datetime(2025, 6, 2, 9, 0, 3, tzinfo=UTC)


def _headers(user=None):
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        headers.append((b"cookie", cookie.encode()))
    return headers


def _header_map(*users):
    """Signed-in headers for each user (built outside the event loop: logging in is sync)."""
    return {0: _headers(), **{u.pk: _headers(u) for u in users}}


def _socket(team_id, headers_by_user, user, since=None):
    path = f"/ws/teams/{team_id}/" + (f"?since={since}" if since is not None else "")
    headers = headers_by_user[user.pk if user else 0]
    return WebsocketCommunicator(application, path, headers=headers)


async def _next(communicator, timeout=3):
    """The next frame that is not a presence update (those come and go with connections)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame.get("kind") != "presence":
            return frame


async def _settle():
    await asyncio.sleep(0.15)  # let the pub/sub subscriptions settle


def test_anonymous_non_member_and_missing_team_are_refused(world):
    built = build_team(world, volunteers=1)
    outsider = world.users[Role.VOLUNTEER]

    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    H = _header_map(outsider, official, built.volunteers[0])

    async def run():
        for user, team_id, expected in [
            (None, built.team.pk, 4401),
            (outsider, built.team.pk, 4403),
            (official, built.team.pk, 4403),
            (built.volunteers[0], built.team.pk + 999, 4404),
        ]:
            connected, code = await _socket(team_id, H, user).connect()
            assert not connected
            assert code == expected

    async_to_sync(run)()


def test_a_message_reaches_every_member_with_its_id(world):
    built = build_team(world, volunteers=2)
    a, b = built.volunteers

    H = _header_map(a, b)

    async def run():
        sa, sb = _socket(built.team.pk, H, a), _socket(built.team.pk, H, b)
        assert (await sa.connect())[0] and (await sb.connect())[0]
        await _settle()
        await sa.send_json_to({"cmd": "message", "body": "我到王奶奶家了"})
        fa, fb = await _next(sa), await _next(sb)
        assert fa == fb
        assert fa["kind"] == "message" and isinstance(fa["id"], int)
        assert fa["message"]["body"] == "我到王奶奶家了"
        assert fa["message"]["author_id"] == a.pk
        # a change made over HTTP (the same service) arrives the same way
        await database_sync_to_async(team_task_create)(
            team=built.team, by=built.leader_user, title="买药"
        )
        fa, fb = await _next(sa), await _next(sb)
        assert fa == fb and fa["kind"] == "task" and fa["action"] == "created"
        await sa.disconnect()
        await sb.disconnect()

    async_to_sync(run)()


def test_presence_lists_online_members(world):
    built = build_team(world, volunteers=2)
    a, b = built.volunteers

    H = _header_map(a, b)

    async def run():
        sa = _socket(built.team.pk, H, a)
        assert (await sa.connect())[0]
        first = await sa.receive_json_from(timeout=3)
        assert first == {"kind": "presence", "online": [a.pk]}
        sb = _socket(built.team.pk, H, b)
        assert (await sb.connect())[0]
        # within the interval the second change is sent by the deferred flush
        deadline = time.monotonic() + 3
        while True:
            frame = await sa.receive_json_from(timeout=3)
            if frame.get("kind") == "presence" and b.pk in frame["online"]:
                break
            assert time.monotonic() < deadline
        assert "id" not in frame
        await sa.disconnect()
        await sb.disconnect()

    async_to_sync(run)()


def test_bad_frames_get_error_frames_and_the_socket_keeps_working(world):
    built = build_team(world, volunteers=1)
    member = built.volunteers[0]

    H = _header_map(member)

    async def run():
        s = _socket(built.team.pk, H, member)
        assert (await s.connect())[0]
        await s.send_to(text_data="{not json")
        assert (await _next(s))["error"] == "bad_json"
        await s.send_json_to({"cmd": "dance"})
        frame = await _next(s)
        assert frame["error"] == "unknown_command" and "未知指令" in frame["message"]
        await s.send_json_to({"cmd": "task.claim", "task": "one"})
        assert (await _next(s))["error"] == "bad_command"
        await s.send_to(text_data='{"cmd": "message", "body": "' + "字" * 2000 + '"}')
        frame = await _next(s)
        assert frame["error"] == "too_large" and frame["message"]
        await s.send_to(bytes_data=b"\x00\x01")
        assert (await _next(s))["error"] == "bad_frame"
        await s.send_json_to({"cmd": "message", "body": "  "})
        frame = await _next(s)
        assert frame["error"] == "invalid" and "不能为空" in frame["message"]
        await s.send_json_to({"cmd": "ping"})
        assert await _next(s) == {"kind": "pong"}
        await s.send_json_to({"cmd": "message", "body": "还在线"})
        assert (await _next(s))["message"]["body"] == "还在线"
        await s.disconnect()

    async_to_sync(run)()


def test_reconnect_with_since_replays_exactly_what_was_missed(world):
    built = build_team(world, volunteers=2)
    a, b = built.volunteers

    H = _header_map(a, b)

    async def run():
        s = _socket(built.team.pk, H, a)
        assert (await s.connect())[0]
        await _settle()
        await s.send_json_to({"cmd": "message", "body": "第一条"})
        last_seen = (await _next(s))["id"]
        await s.disconnect()
        # while away: three events, written by someone else
        missed = []
        for body in ("第二条", "第三条"):
            await database_sync_to_async(team_message_post)(team=built.team, by=b, body=body)
        await database_sync_to_async(team_task_create)(
            team=built.team, by=built.leader_user, title="送餐"
        )
        s = _socket(built.team.pk, H, a, since=last_seen)
        assert (await s.connect())[0]
        for _ in range(3):
            missed.append(await _next(s))
        assert [m["kind"] for m in missed] == ["message", "message", "task"]
        assert [m["message"]["body"] for m in missed[:2]] == ["第二条", "第三条"]
        ids = [m["id"] for m in missed]
        assert ids == sorted(ids) and ids[0] > last_seen
        # nothing more is replayed
        await s.send_json_to({"cmd": "ping"})
        assert await _next(s) == {"kind": "pong"}
        # and the sync command answers the same
        await s.send_json_to({"cmd": "sync", "since": last_seen})
        reply = await _next(s)
        assert [e["id"] for e in reply["events"]] == ids
        await s.disconnect()

    async_to_sync(run)()


def test_removed_member_is_disconnected_within_two_seconds(world):
    built = build_team(world, volunteers=2)
    gone, stays = built.volunteers

    H = _header_map(gone, stays)

    async def run():
        s_gone, s_stays = _socket(built.team.pk, H, gone), _socket(built.team.pk, H, stays)
        assert (await s_gone.connect())[0] and (await s_stays.connect())[0]
        await _settle()
        started = time.monotonic()
        await database_sync_to_async(team_member_remove)(
            team=built.team, by=built.leader_user, user=gone
        )
        while True:
            output = await s_gone.receive_output(timeout=2)
            if output["type"] == "websocket.close":
                break
        assert output["code"] == 4403
        assert time.monotonic() - started < 2
        frame = await _next(s_stays)
        assert frame["kind"] == "member" and frame["action"] == "removed"
        assert frame["user_id"] == gone.pk
        await s_stays.send_json_to({"cmd": "ping"})
        assert await _next(s_stays) == {"kind": "pong"}
        await s_stays.disconnect()
        # and the removed member cannot come back in
        connected, code = await _socket(built.team.pk, H, gone).connect()
        assert not connected and code == 4403

    async_to_sync(run)()


@time_machine.travel(RATE_WINDOW_START, tick=False)
def test_flooding_member_gets_rate_limited_frames(world):
    built = build_team(world, volunteers=1)
    member = built.volunteers[0]

    H = _header_map(member)

    async def run():
        s = _socket(built.team.pk, H, member)
        assert (await s.connect())[0]
        for _ in range(TEAM_RATE_LIMIT):
            await s.send_json_to({"cmd": "ping"})
            assert await _next(s) == {"kind": "pong"}
        await s.send_json_to({"cmd": "message", "body": "刷屏"})
        frame = await _next(s)
        assert frame["error"] == "rate_limited" and "频繁" in frame["message"]
        await s.disconnect()

    async_to_sync(run)()


@pytest.mark.redis
def test_two_members_through_the_real_redis_layer(world):
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__module__.startswith("channels_redis")
    built = build_team(world, volunteers=2)
    a, b = built.volunteers

    H = _header_map(a, b)

    async def run():
        sa, sb = _socket(built.team.pk, H, a), _socket(built.team.pk, H, b)
        assert (await sa.connect())[0] and (await sb.connect())[0]
        await _settle()
        await sb.send_json_to({"cmd": "message", "body": "经 Redis 送达"})
        fa, fb = await _next(sa), await _next(sb)
        assert fa == fb and fa["message"]["body"] == "经 Redis 送达"
        await sa.disconnect()
        await sb.disconnect()

    async_to_sync(run)()
