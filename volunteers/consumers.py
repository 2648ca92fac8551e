"""The team room socket: one member's connection to one team's room.

The consumer only checks who may join, parses frames and hands commands to
`team_command`; the services write, log and broadcast. Every error is answered with an
error frame and the connection stays open."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from volunteers.exceptions import DomainError
from volunteers.realtime import (
    CLOSE_NO_TEAM,
    CLOSE_NOT_MEMBER,
    CLOSE_UNAUTHENTICATED,
    team_group,
)
from volunteers.selectors.teams import team_exists
from volunteers.services.teams import (
    PRESENCE_INTERVAL,
    team_command,
    team_member_can_join,
    team_presence_flush,
    team_presence_update,
    team_replay,
)

logger = logging.getLogger(__name__)

# Larger frames are refused before parsing: a message is at most 1000 characters, so 4 KiB
# of UTF-8 JSON is ample.
MAX_FRAME_BYTES = 4096

# Deferred presence broadcasts outlive the consumer that scheduled them (a socket that
# just closed still has to be announced as gone); keep them referenced until done.
_pending: set[asyncio.Task] = set()


async def _flush_later(team_id: int) -> None:
    await asyncio.sleep(PRESENCE_INTERVAL + 0.05)
    try:
        await database_sync_to_async(team_presence_flush)(team_id=team_id)
    except Exception:  # presence is best effort; the next change or ping corrects it
        logger.debug("presence flush failed for team %s", team_id, exc_info=True)


def _schedule_flush(team_id: int) -> None:
    task = asyncio.get_running_loop().create_task(_flush_later(team_id))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _since(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("since")
    if not values:
        return None
    try:
        since = int(values[0])
    except ValueError:
        return None
    return since if since >= 0 else None


class TeamConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/teams/<team_id>/?since=<last event id>`: events of the room in order, commands
    from the member."""

    joined = False
    closing = False

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.team_id = int(self.scope["url_route"]["kwargs"]["team_id"])
        if not await database_sync_to_async(team_member_can_join)(team_id=self.team_id, user=user):
            exists = await database_sync_to_async(team_exists)(team_id=self.team_id)
            await self.close(code=CLOSE_NOT_MEMBER if exists else CLOSE_NO_TEAM)
            return
        # Join the group before reading the log: an event committed in between reaches the
        # socket twice rather than never (clients skip ids they have seen).
        await self.channel_layer.group_add(team_group(self.team_id), self.channel_name)
        self.joined = True
        await self.accept()
        since = _since(self.scope.get("query_string", b""))
        if since is not None:
            for frame in await database_sync_to_async(team_replay)(
                team_id=self.team_id, user=user, since_id=since
            ):
                await self.send_json(frame)
        await self._presence(online=True)

    async def disconnect(self, code):
        if not self.joined:
            return
        self.joined = False
        await self.channel_layer.group_discard(team_group(self.team_id), self.channel_name)
        await self._presence(online=False)

    async def _presence(self, *, online: bool) -> None:
        try:
            sent = await database_sync_to_async(team_presence_update)(
                team_id=self.team_id, user=self.user, online=online
            )
        except Exception:  # presence must never cost the member the connection
            logger.warning("presence update failed for team %s", self.team_id, exc_info=True)
            return
        if not sent:
            _schedule_flush(self.team_id)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self._error("bad_frame", _("只接受 JSON 文本消息。"))
            return
        if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self._error("too_large", _("消息过长，请缩短后再发。"))
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("bad_json", _("消息不是有效的 JSON。"))
            return
        try:
            reply = await database_sync_to_async(team_command)(
                team_id=self.team_id, user=self.user, command=content
            )
        except DomainError as exc:
            await self._error(exc.code, str(exc.message))
            return
        except Exception:  # the member keeps the connection even if a command fails
            logger.exception("team command failed in team %s", self.team_id)
            await self._error("server_error", _("服务器暂时无法处理，请稍后再试。"))
            return
        if reply is not None:
            await self.send_json(reply)

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"error": code, "message": str(message)})

    async def team_event(self, event):
        if self.closing:
            return
        try:
            await self.send(text_data=event["text"])
        except RuntimeError:
            # The client closed while this frame was on its way; the disconnect follows.
            self.closing = True

    async def team_member_removed(self, event):
        if event["user_id"] == self.user.pk and not self.closing:
            # Frames already queued for this socket must not follow the close.
            self.closing = True
            await self.close(code=CLOSE_NOT_MEMBER)
