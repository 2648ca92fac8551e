"""Real-time events to signed-in users. Only services call this, after commit."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group(user_id: int) -> str:
    """The channel group every open notification socket of one user joins."""
    return f"user.{user_id}"


def publish_to_users(user_ids: Iterable[int], payload: dict) -> None:
    """Send one event to every open notification socket of these users."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    for user_id in user_ids:
        send(user_group(user_id), {"type": "notify", "payload": payload})
