"""Writes of teams: forming, members, the task board, messages and the event log.

Every change appends a `TeamEvent` in the caller's transaction and broadcasts it after
commit, so HTTP, socket and Celery paths emit the same frames and a rolled-back change
is never announced."""

from __future__ import annotations

from django.db import transaction

from volunteers import realtime
from volunteers.models import Team, TeamEvent

__all__ = ["team_event_record"]


def team_event_record(*, team: Team, kind: str, payload: dict) -> TeamEvent:
    """Append one event to the team's log and broadcast it after commit. The frame sent is
    `{"id": <event id>, "kind": kind, **payload}`; a reconnecting member replays the log
    from the last id it saw. Call inside the service's transaction."""
    event = TeamEvent.objects.create(team=team, kind=kind, payload=payload)
    frame = {"id": event.pk, "kind": kind, **payload}
    transaction.on_commit(lambda: realtime.publish_team_event(team.pk, frame))
    return event
