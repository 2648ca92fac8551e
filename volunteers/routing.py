"""Websocket routes of volunteering."""

from django.urls import path

from volunteers.consumers import TeamConsumer

websocket_urlpatterns = [
    path("ws/teams/<int:team_id>/", TeamConsumer.as_asgi()),
]
