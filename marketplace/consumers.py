"""The personal notification socket: events for one signed-in user."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from marketplace.realtime import user_group

# Close codes in the application range: 4401 unauthenticated.
CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Pushes service events (e.g. an organisation verified) to the user's open pages.
    The socket only listens; every change goes through HTTP and the services."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json(
            {"error": "unsupported", "message": _("此通道只接收通知，不接受指令。")}
        )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self.send_json({"error": "bad_frame", "message": _("只接受 JSON 文本消息。")})
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json({"error": "bad_json", "message": _("消息不是有效的 JSON。")})
            return
        await self.receive_json(content, **kwargs)

    async def notify(self, event):
        await self.send_json(event["payload"])
