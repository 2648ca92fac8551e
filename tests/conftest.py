"""Shared fixtures: a small district with two streets, organisations of each kind, and one
user per role (and a second street official for cross-street refusals)."""

from __future__ import annotations

import os
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone, translation

from marketplace.models import Area, AssistanceStandard, Organisation, Role
from tests import factories as f

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
ON_REDIS = bool(os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs DATABASE_URL pointing at PostgreSQL")
    skip_redis = pytest.mark.skip(reason="needs REDIS_URL")
    skip_es = pytest.mark.skip(reason="needs ELASTICSEARCH_URL")
    for item in items:
        if item.get_closest_marker("postgres") and not ON_POSTGRES:
            item.add_marker(skip_pg)
        if item.get_closest_marker("redis") and not ON_REDIS:
            item.add_marker(skip_redis)
        if item.get_closest_marker("elasticsearch") and not os.environ.get("ELASTICSEARCH_URL"):
            item.add_marker(skip_es)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language (a request in English leaves the
    thread's language switched, as it does in a server thread)."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters and cached values must not leak from one test to the next."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def world(db):
    """A district, two streets with a community each, and organisations of each kind."""
    L, K = Area.Level, Area.Kind
    OK = Organisation.Kind
    district = f.area("瑶海区", L.DISTRICT, K.DISTRICT)
    street = f.area("明光路街道", L.STREET, K.SUBDISTRICT, district)
    street2 = f.area("胜利路街道", L.STREET, K.SUBDISTRICT, district)
    community = f.area("明光路社区", L.COMMUNITY, K.COMMUNITY, street)
    community2 = f.area("胜利路社区", L.COMMUNITY, K.COMMUNITY, street2)
    w = SimpleNamespace(
        district=district,
        street=street,
        street2=street2,
        community=community,
        community2=community2,
    )
    w.civil_affairs = f.organisation("瑶海区民政局", OK.CIVIL_AFFAIRS, district)
    w.audit_dept = f.organisation(
        "瑶海区审计局", OK.DEPARTMENT, district, department=Organisation.Department.AUDIT
    )
    w.office = f.organisation("明光路街道办事处", OK.STREET_OFFICE, street)
    w.office2 = f.organisation("胜利路街道办事处", OK.STREET_OFFICE, street2)
    w.community_office = f.organisation("明光路社区居委会", OK.COMMUNITY, community)
    w.charity = f.organisation("瑶海区慈善协会", OK.CHARITY, street)
    w.charity_pending = f.organisation("胜利路爱心会", OK.CHARITY, street2, verified=False)
    w.pending_in_street = f.organisation(
        "明光路新设服务队", OK.VOLUNTEER_ORG, community, verified=False
    )
    w.agency = f.organisation("阳光社会工作服务中心", OK.AGENCY, street)
    w.station = f.organisation("明光路街道社工站", OK.SOCIAL_WORK_STATION, street)
    w.federation = f.organisation("明光路街道志愿者联合会", OK.VOLUNTEER_FEDERATION, street)
    w.users = {
        Role.CIVIL_AFFAIRS_OFFICIAL: f.user(
            "minzheng", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs
        ),
        Role.STREET_OFFICIAL: f.user("jiedao", Role.STREET_OFFICIAL, w.office),
        Role.COMMUNITY_WORKER: f.user("shequ", Role.COMMUNITY_WORKER, w.community_office),
        Role.CHARITY_STAFF: f.user("cishan", Role.CHARITY_STAFF, w.charity),
        Role.AGENCY_STAFF: f.user("jigou", Role.AGENCY_STAFF, w.agency),
        Role.SOCIAL_WORKER: f.user("shegong", Role.SOCIAL_WORKER, w.station),
        Role.VOLUNTEER: f.user("zhiyuan", Role.VOLUNTEER, w.federation),
        Role.APPLICANT: f.user("shenqing", Role.APPLICANT),
        Role.AUDITOR: f.user("shenji", Role.AUDITOR, w.audit_dept),
        Role.VOLUNTEER_MANAGER: f.user("zhiyuanhui", Role.VOLUNTEER_MANAGER, w.federation),
        Role.EVALUATOR: f.user("pingshen", Role.EVALUATOR),
    }
    w.housing = f.organisation(
        "瑶海区住房和城乡建设局",
        OK.DEPARTMENT,
        district,
        department=Organisation.Department.HOUSING,
    )
    w.health = f.organisation(
        "瑶海区卫生健康委员会", OK.DEPARTMENT, district, department=Organisation.Department.HEALTH
    )
    w.users[Role.DEPARTMENT_STAFF] = f.user("bumen", Role.DEPARTMENT_STAFF, w.housing)
    w.health_staff = f.user("weijian", Role.DEPARTMENT_STAFF, w.health)
    w.community_office2 = f.organisation("胜利路社区居委会", OK.COMMUNITY, community2)
    w.community_worker2 = f.user("shequ2", Role.COMMUNITY_WORKER, w.community_office2)
    # The 低保 standard for this year (data, not code).
    w.standard = AssistanceStandard.objects.create(
        year=timezone.localdate().year, area=district, dibao_monthly=Decimal("800")
    )
    w.street_official2 = f.user("jiedao2", Role.STREET_OFFICIAL, w.office2)
    w.pending_member = f.user("xinsheli", Role.VOLUNTEER, w.pending_in_street)
    return w


@pytest.fixture
def login(client):
    """Sign the test client in as a user and return it."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Sealed bid plans and delivery evidence go to a temporary private root, never the
    project's `private/` folder."""
    from django.utils.functional import empty

    from marketplace.models.procurement import private_storage

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    private_storage._wrapped = empty
    yield tmp_path / "private"
    private_storage._wrapped = empty


@pytest.fixture
def seeded(transactional_db):
    """The service types a migration seeds, put back for a transactional test after an
    earlier one flushed them."""
    from importlib import import_module

    from marketplace.models import ServiceType

    seeded = import_module("marketplace.migrations.0003_seed_service_types_and_rules")
    for position, (code, name, description) in enumerate(seeded.SERVICE_TYPES, start=1):
        ServiceType.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "position": position}
        )
