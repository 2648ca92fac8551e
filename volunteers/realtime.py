"""Real-time events of teams. Only `volunteers.services` call this, after commit."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

# Close codes in the application range: 4401 unauthenticated, 4403 not (or no longer) a
# member, 4404 no such team.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_MEMBER = 4403
CLOSE_NO_TEAM = 4404


def team_group(team_id: int) -> str:
    """The channel group every open socket of one team's room joins."""
    return f"team.{team_id}"


def publish_team_event(team_id: int, payload: dict) -> None:
    """Send one event frame to every socket in the team's room. The frame is encoded once
    here as `text` (and only as text), not once per socket: a room may hold a thousand."""
    layer = get_channel_layer()
    if layer is None:
        return
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    async_to_sync(layer.group_send)(team_group(team_id), {"type": "team.event", "text": text})


def publish_member_removed(team_id: int, user_id: int) -> None:
    """Tell the room that a member was removed: that member's sockets close themselves."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        team_group(team_id), {"type": "team.member_removed", "user_id": user_id}
    )
