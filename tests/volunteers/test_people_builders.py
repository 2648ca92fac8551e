"""Builders shared by the people tests (no tests here): registration input, volunteers
registered through the real service, a second volunteer organisation with its manager, and
service records."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from decimal import Decimal

from django.utils import timezone

from marketplace.models import Organisation, Role
from tests import factories as f
from volunteers.models import Affiliation, ServiceRecord, Skill
from volunteers.services import AvailabilityInput, affiliation_decide, volunteer_register

_n = itertools.count(1)


def registration(world, **overrides) -> dict:
    """Valid input for `volunteer_register` (without the user)."""
    data = {
        "real_name": "张志愿",
        "id_number": f.resident_id(date(1990, 4, 12)),
        "phone": f.phone(),
        "home_community": world.community,
        "skills": list(Skill.objects.filter(code__in=["care", "visiting"])),
        "availabilities": [AvailabilityInput(1, time(14), time(17))],
        "max_concurrent": 2,
        "introduction": "退休教师，周二下午有空",
    }
    data.update(overrides)
    return data


def registered(world, *, community=None, name=None, **overrides):
    """A volunteer registered through the service, with a fresh account; the plain ID and
    phone are kept on the object (`full_id`, `full_phone`) to search response bodies."""
    n = next(_n)
    user = f.user(f"pv{n}")
    data = registration(
        world, real_name=name or f"志愿者{n}", home_community=community or world.community
    )
    data.update(overrides)
    volunteer = volunteer_register(user=user, **data)
    volunteer.full_id, volunteer.full_phone = data["id_number"], data["phone"]
    return volunteer


def member_of(world, volunteer, organisation=None):
    """Make the volunteer an approved member of the organisation (the 联合会 by default)."""
    organisation = organisation or world.federation
    affiliation = Affiliation.objects.create(volunteer=volunteer, organisation=organisation)
    manager = (
        world.users[Role.VOLUNTEER_MANAGER]
        if organisation == world.federation
        else organisation.manager
    )
    return affiliation_decide(affiliation=affiliation, by=manager, approve=True)


def other_volunteer_org(world):
    """A second verified volunteer organisation in the other street, with its manager on
    `.manager`."""
    n = next(_n)
    org = f.organisation(
        f"胜利路爱心志愿服务队{n}", Organisation.Kind.VOLUNTEER_ORG, world.community2
    )
    org.manager = f.user(f"pm{n}", Role.VOLUNTEER_MANAGER, org)
    return org


def record(volunteer, opportunity, *, hours="2.5", status=ServiceRecord.Status.CONFIRMED):
    """A finished service record of the volunteer in the opportunity."""
    start = opportunity.starts_at
    return ServiceRecord.objects.create(
        volunteer=volunteer,
        opportunity=opportunity,
        status=status,
        checked_in_at=start,
        checked_out_at=start + timedelta(hours=float(hours)),
        hours=Decimal(hours),
        confirmed_at=timezone.now() if status == ServiceRecord.Status.CONFIRMED else None,
    )
