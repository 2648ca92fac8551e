"""The notification socket, through the real ASGI application (origin check, session
auth). In the PostgreSQL/Redis run the channel layer is Redis pub/sub."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application
from marketplace.models import Role
from marketplace.services import organisation_verify

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/notifications/"


def _headers(user=None, origin=b"http://testserver"):
    headers = [(b"origin", origin)] if origin else []
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        headers.append((b"cookie", cookie.encode()))
    return headers


def test_anonymous_is_refused(world):
    async def run():
        communicator = WebsocketCommunicator(application, PATH, headers=_headers())
        connected, code = await communicator.connect()
        assert not connected
        assert code == 4401

    async_to_sync(run)()


def test_foreign_origin_is_refused(world):
    headers = _headers(world.users[Role.VOLUNTEER], origin=b"http://evil.example.com")

    async def run():
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(run)()


def test_member_gets_verification_event_and_others_do_not(world):
    member_headers = _headers(world.pending_member)
    outsider_headers = _headers(world.users[Role.CHARITY_STAFF])
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    org = world.pending_in_street

    async def run():
        member = WebsocketCommunicator(application, PATH, headers=member_headers)
        outsider = WebsocketCommunicator(application, PATH, headers=outsider_headers)
        assert (await member.connect())[0]
        assert (await outsider.connect())[0]
        await asyncio.sleep(0.1)  # let the pub/sub subscription settle
        await database_sync_to_async(organisation_verify)(organisation=org, verified_by=official)
        event = await member.receive_json_from(timeout=3)
        assert event["event"] == "organisation.verified"
        assert event["organisation"]["id"] == org.pk
        assert "认证" in event["message"]
        assert await outsider.receive_nothing(timeout=0.3)
        await member.disconnect()
        await outsider.disconnect()

    async_to_sync(run)()


def test_commands_and_bad_frames_get_clear_errors(world):
    headers = _headers(world.users[Role.VOLUNTEER])

    async def run():
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data="{not json")
        assert (await communicator.receive_json_from())["error"] == "bad_json"
        await communicator.send_json_to({"type": "verify", "id": 1})
        reply = await communicator.receive_json_from()
        assert reply["error"] == "unsupported" and "通知" in reply["message"]
        await communicator.send_to(bytes_data=b"\x00\x01")
        assert (await communicator.receive_json_from())["error"] == "bad_frame"
        await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.redis
def test_channel_layer_is_redis_when_redis_url_set():
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__module__.startswith("channels_redis")
