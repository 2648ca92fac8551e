"""Builders shared by the opportunity and hours tests (no tests here): volunteers with their
role, and opportunities posted through the real service."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone

from marketplace.models import Role
from tests import factories as f
from volunteers.services import opportunity_create

_names = itertools.count(1)


def volunteer(world, name: str | None = None, **extra):
    """A registered volunteer of the street's 联合会 (role and registration)."""
    n = next(_names)
    user = f.user(f"zy{n}", Role.VOLUNTEER, world.federation)
    return f.volunteer(user, world.community, real_name=name or f"志愿者{n}", **extra)


def at(days: int = 1, hour: int = 9, minute: int = 0) -> datetime:
    """A local time `days` from today at hour:minute."""
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def opportunity(world, *, starts_at=None, hours: float = 2, slots: int = 5, by=None, **extra):
    """An open opportunity of the street's 联合会, posted by its manager."""
    starts_at = starts_at or at(1)
    data = {
        "by": by or world.users[Role.VOLUNTEER_MANAGER],
        "organisation": world.federation,
        "title": "社区助老探访",
        "description": "上门探访独居老人，陪伴聊天",
        "community": world.community,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=hours),
        "slots": slots,
        "address": "明光路社区服务中心",
    }
    data.update(extra)
    return opportunity_create(**data)
