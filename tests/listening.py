"""Listening on the real channel layer in tests: what a user's open pages would receive."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from marketplace.realtime import user_group


def deliver(callbacks, users, *, wait=0.5):
    """Run captured on-commit callbacks while each user's notification group has a listener
    on the real channel layer; return the events each user received."""

    async def run():
        layer = get_channel_layer()
        channels = {}
        for user in users:
            channels[user.pk] = await layer.new_channel()
            await layer.group_add(user_group(user.pk), channels[user.pk])
        await asyncio.sleep(0.1)  # a pub/sub subscription needs a moment to settle
        for callback in callbacks:
            await sync_to_async(callback)()
        received = {}
        for user_id, channel in channels.items():
            received[user_id] = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), wait)
                except TimeoutError:
                    break
                received[user_id].append(message["payload"])
            await layer.group_discard(user_group(user_id), channel)
        return received

    return async_to_sync(run)()
