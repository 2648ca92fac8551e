"""The purchasing catalogue in the Wagtail admin: civil-affairs officials (through the group
"区民政局审核") add items as drafts, which stay off the public catalogue, and publish them,
which puts them on it; bad input is refused with the form's error and saves nothing; charity
and agency staff, who use the admin for their projects, can neither list, add nor publish
items."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from charity.services import project_editors_sync, project_reviewers_sync
from marketplace.models import CatalogueItem, Role, ServiceType
from tests import procurement as P

pytestmark = pytest.mark.django_db

LIST = "wagtailsnippets_marketplace_catalogueitem:list"
ADD = "wagtailsnippets_marketplace_catalogueitem:add"
EDIT = "wagtailsnippets_marketplace_catalogueitem:edit"
REFUSED = (302, 403)


def item_data(**overrides) -> dict:
    data = {
        "year": "2025",
        "code": "YH-901",
        "name": "困难家庭儿童课业辅导",
        "category": CatalogueItem.Category.CHILDREN,
        "service_type": ServiceType.objects.get(code="visiting").pk,
        "description": "为困难家庭儿童提供课后课业辅导和陪伴。",
        "service_standard": "每次不少于90分钟，由持证社工或培训合格的志愿者提供。",
        "unit": "session",
        "guidance_price": "150.00",
        "in_service_list": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def official(world, client):
    """A civil-affairs official in the officials' group, signed in to the admin."""
    project_reviewers_sync()
    client.force_login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    return client


def public_catalogue(client, year=2025):
    return client.get(f"/procurement/catalogue/{year}/")


def test_the_officials_group_holds_the_catalogue_permissions(world):
    group = Group.objects.get(name="区民政局审核")
    codenames = set(
        group.permissions.filter(content_type__model="catalogueitem").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {
        "add_catalogueitem",
        "change_catalogueitem",
        "delete_catalogueitem",
        "publish_catalogueitem",
    }


def test_official_lists_filters_and_searches_items(world, official):
    P.catalogue_item(year=2025, name="独居老人探访", code="YH-A01")
    P.catalogue_item(year=2024, name="困境儿童关爱", code="YH-B01")
    response = official.get(reverse(LIST))
    assert response.status_code == 200
    body = response.content.decode()
    assert "独居老人探访" in body and "困境儿童关爱" in body
    menu = official.get("/admin/").content.decode()
    assert reverse(LIST) in menu
    assert json.dumps("购买服务目录")[1:-1] in menu  # the sidebar's label, as JSON
    body = official.get(reverse(LIST), {"year": 2024}).content.decode()
    assert "困境儿童关爱" in body and "独居老人探访" not in body
    body = official.get(reverse(LIST), {"q": "YH-A01"}).content.decode()
    assert "独居老人探访" in body and "困境儿童关爱" not in body


def test_official_saves_a_draft_then_publishes_it(world, official, client):
    response = official.post(reverse(ADD), item_data())
    assert response.status_code == 302
    item = CatalogueItem.objects.get(code="YH-901")
    assert not item.live
    assert item.revisions.count() == 1
    # A draft is not public: the year has no published item yet.
    client.logout()
    assert public_catalogue(client).status_code == 404

    official.force_login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = official.post(
        reverse(EDIT, args=[item.pk]), item_data(**{"action-publish": "action-publish"})
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.live
    official.logout()
    body = public_catalogue(official).content.decode()
    assert "困难家庭儿童课业辅导" in body and 'id="item-YH-901"' in body


def test_a_draft_edit_of_a_live_item_stays_off_the_public_page(world, official, client):
    item = P.catalogue_item(year=2025, name="独居老人探访", code="YH-A01")
    data = item_data(code="YH-A01", name="独居老人探访（修订稿）")
    response = official.post(reverse(EDIT, args=[item.pk]), data)
    assert response.status_code == 302
    client.logout()
    body = public_catalogue(client).content.decode()
    assert "独居老人探访" in body and "修订稿" not in body


def test_bad_item_is_refused_and_nothing_saved(world, official):
    P.catalogue_item(year=2025, code="YH-A01")
    before = CatalogueItem.objects.count()
    for data in (
        item_data(code="YH-A01"),  # the code is taken in that year
        item_data(guidance_price="0"),
        item_data(year="1999"),
        item_data(unit="ton"),
    ):
        response = official.post(reverse(ADD), data)
        assert response.status_code == 200  # the form again, with its error
        assert CatalogueItem.objects.count() == before
    response = official.post(reverse(ADD), item_data(code="YH-A01"))
    assert "同一年度的目录编码不能重复。" in response.content.decode()


@pytest.mark.parametrize("role", [Role.CHARITY_STAFF, Role.AGENCY_STAFF])
def test_charity_and_agency_staff_cannot_touch_the_catalogue(world, client, role):
    user = world.users[role]
    organisation = world.charity if role == Role.CHARITY_STAFF else world.agency
    project_editors_sync(organisation=organisation)  # they use the admin for their projects
    assert user.has_perm("wagtailadmin.access_admin")
    draft = P.catalogue_item(year=2025, live=False, code="YH-C01")
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    assert reverse(LIST) not in client.get("/admin/").content.decode()
    assert client.get(reverse(LIST)).status_code in REFUSED
    assert client.get(reverse(ADD)).status_code in REFUSED
    client.post(reverse(ADD), item_data())
    assert not CatalogueItem.objects.filter(code="YH-901").exists()
    client.post(
        reverse(EDIT, args=[draft.pk]),
        item_data(code="YH-C01", **{"action-publish": "action-publish"}),
    )
    draft.refresh_from_db()
    assert not draft.live


def test_other_admin_users_without_the_group_are_refused(world, client):
    user = world.users[Role.STREET_OFFICIAL]
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)
    assert client.get(reverse(LIST)).status_code in REFUSED
