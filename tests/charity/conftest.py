"""Fixtures for charity tests: a mutual-aid society and a second charity with their own
staff, each organisation's project section set up, and a builder of projects that goes
through the real services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from charity.services import (
    project_approve,
    project_create,
    project_editors_sync,
    project_reviewers_sync,
    project_section_ensure,
)
from marketplace.models import Organisation, Role, ServiceType
from tests import factories as f


@pytest.fixture
def projects_world(world):
    """`world` plus a 互助会 and a second charity with staff, sections and groups in place,
    and civil affairs in the reviewers' group."""
    w = world
    OK = Organisation.Kind
    w.mutual_aid = f.organisation("明光路社区慈善公益互助会", OK.MUTUAL_AID, w.community)
    w.mutual_aid_staff = f.user("huzhu", Role.CHARITY_STAFF, w.mutual_aid)
    w.charity2 = f.organisation("胜利路慈善会", OK.CHARITY, w.street2)
    w.charity2_staff = f.user("cishan2", Role.CHARITY_STAFF, w.charity2)
    w.charity_staff = w.users[Role.CHARITY_STAFF]
    w.agency_staff = w.users[Role.AGENCY_STAFF]
    w.official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.sections = {}
    for organisation in (w.charity, w.charity2, w.mutual_aid, w.agency):
        w.sections[organisation.pk] = project_section_ensure(organisation=organisation)
        project_editors_sync(organisation=organisation)
    project_reviewers_sync()
    w.service_types = list(ServiceType.objects.order_by("position", "code")[:3])
    return w


def project_fields(w, **overrides):
    """Valid input for `project_create`, with `overrides` applied."""
    today = timezone.localdate()
    fields = {
        "organisation": w.charity,
        "owner": w.charity_staff,
        "title": "困难老人助餐服务",
        "summary": "为独居、高龄的困难老人每天送一餐热饭。",
        "gives_services": True,
        "service_types": w.service_types[:1],
        "streets": [w.street],
        "budget": Decimal("12000.50"),
        "capacity": 20,
        "starts_on": today - datetime.timedelta(days=10),
        "ends_on": today + datetime.timedelta(days=180),
        "eligibility": "明光路街道 70 岁以上、独居或子女不在身边的低保、特困老人。",
        "contact_name": "张老师",
        "contact_phone": "13905510001",
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def make_project(projects_world):
    """Build a project through the services: a draft, submitted (`submit=True`) or
    published through the review workflow (`publish=True`)."""

    def _make(*, publish: bool = False, **overrides):
        w = projects_world
        fields = project_fields(w, **overrides)
        fields["submit"] = fields.get("submit", False) or publish
        page = project_create(**fields)
        if publish:
            page = project_approve(page=page, by=w.official)
        return page

    return _make
