"""Websocket routes of volunteering."""

websocket_urlpatterns: list = []
