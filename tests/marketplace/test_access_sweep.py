"""Every URL pattern of the marketplace, swept: anonymous visitors are refused everywhere but
the public pages, and providers (charities, agencies, social workers, volunteers) and other
applicants never receive a household's name, ID or phone from any page or endpoint. A new
URL pattern fails `test_every_pattern_is_swept` until it is added here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from marketplace import api_urls, urls
from marketplace.models import Role, ServiceType, Warning
from marketplace.services import (
    MemberInput,
    NeedInput,
    case_register,
    need_transition,
    referral_send,
)
from tests import factories as f

PUBLIC_PAGES = {"login", "logout", "organisation-list", "organisation-detail"}
PUBLIC_API = {"api-organisation-list", "api-organisation-detail"}
PROVIDER_ROLES = [Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER]
HEAD_NAME = "郑秀英"


@pytest.fixture
def household(world):
    worker = world.users[Role.COMMUNITY_WORKER]
    today = timezone.localdate()
    result = case_register(
        created_by=worker,
        community=world.community,
        members=[
            MemberInput(name=HEAD_NAME, id_number=f.resident_id(), relationship="head"),
        ],
        phone="13955556666",
        income_per_capita=Decimal("500"),
        sensitive_consent_by=HEAD_NAME,
        need=NeedInput(
            kind="service",
            service_type=ServiceType.objects.get(code="visiting"),
            window_start=today,
            window_end=today + timedelta(days=7),
            public_description="老人需要定期探访",
        ),
    )
    official = world.users[Role.STREET_OFFICIAL]
    need_transition(need=result.need, to="confirmed", by=official)
    need_transition(need=result.need, to="open", by=official)
    referral = referral_send(
        case=result.case, by=worker, department=world.housing, reason="住房困难"
    )
    warning = Warning.objects.create(case=result.case, rule="disability", detail="家中有残疾人")
    member = result.case.members.get()
    return {
        "case": result.case,
        "need": result.need,
        "referral": referral,
        "warning": warning,
        "secrets": [HEAD_NAME, member.id_masked, result.case.phone_masked, "13955556666"],
    }


def _kwargs(pattern_name: str, household, world) -> dict:
    """Arguments for a URL pattern, pointing at the household's own objects."""
    by_prefix = {
        "case-": household["case"].pk,
        "referral-create": household["case"].pk,
        "need-create": household["case"].pk,
        "need-": household["need"].pk,
        "referral-": household["referral"].pk,
        "warning-": household["warning"].pk,
        "organisation-": world.charity.pk,
    }
    for prefix, pk in by_prefix.items():
        if pattern_name.startswith(prefix):
            return {"pk": pk}
    return {}


def _patterns():
    """The marketplace's own page patterns; the purchase-of-services pages (namespace
    `procurement`) have their own sweep in test_procurement_access_sweep.py."""
    for pattern in urls.urlpatterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == "procurement":
            continue
        assert isinstance(pattern, URLPattern)
        yield pattern


def _page_urls(household, world):
    for pattern in _patterns():
        name = pattern.name
        params = set(pattern.pattern.regex.groupindex)
        kwargs = {k: v for k, v in _kwargs(name, household, world).items() if k in params}
        if "action" in params:
            kwargs["action"] = "accept"
        yield name, reverse(name, kwargs=kwargs or None)


def _api_urls(household, world):
    objects = {
        "api-case": household["case"].pk,
        "api-need": household["need"].pk,
        "api-open-need": household["need"].pk,
        "api-referral": household["referral"].pk,
        "api-warning": household["warning"].pk,
        "api-organisation": world.charity.pk,
        "api-application": household["need"].pk,
    }
    for pattern in api_urls.urlpatterns:
        name = getattr(pattern, "name", None)
        if not name or "format" in pattern.pattern.regex.groupindex or name == "api-root":
            continue
        params = set(pattern.pattern.regex.groupindex)
        kwargs = {}
        if "pk" in params:
            base = name.rsplit("-", 1)[0]
            while base not in objects and "-" in base:
                base = base.rsplit("-", 1)[0]
            kwargs["pk"] = objects.get(base, household["case"].pk)
        yield name, reverse(name, kwargs=kwargs or None)


def test_every_pattern_is_swept(household, world):
    names = [name for name, _ in _page_urls(household, world)]
    assert "case-detail" in names and "need-open-list" in names
    assert len(names) == len(list(_patterns())) == len(urls.urlpatterns) - 1
    api_names = [name for name, _ in _api_urls(household, world)]
    assert any(n.startswith("api-case") for n in api_names)


def test_anonymous_is_refused_everywhere_but_public_pages(client, household, world):
    login = reverse("login")
    for name, url in _page_urls(household, world):
        if name in PUBLIC_PAGES:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 401, 403, 405), (name, method)
            if response.status_code == 302:
                assert response["Location"].startswith(login), (name, method)
    for name, url in _api_urls(household, world):
        if name in PUBLIC_API:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (401, 403, 405), (name, method)


@pytest.mark.parametrize("role", [*PROVIDER_ROLES, Role.APPLICANT])
def test_providers_and_other_applicants_never_receive_identities(client, household, world, role):
    client.force_login(world.users[role])
    for name, url in [*_page_urls(household, world), *_api_urls(household, world)]:
        if name == "logout":
            continue
        response = client.get(url)
        body = response.content.decode(errors="replace")
        for secret in household["secrets"]:
            assert secret not in body, (role, name, secret)
        if name.startswith(("case-", "api-case")) and name not in {"case-register"}:
            assert response.status_code in (403, 404, 405) or '"count":0' in body.replace(
                " ", ""
            ), (role, name, response.status_code)


def test_other_street_and_community_staff_never_see_the_household(client, household, world):
    for user in (world.street_official2, world.community_worker2, world.health_staff):
        client.force_login(user)
        for name, url in [*_page_urls(household, world), *_api_urls(household, world)]:
            if name == "logout":
                continue
            body = client.get(url).content.decode(errors="replace")
            for secret in household["secrets"]:
                assert secret not in body, (user.username, name, secret)
