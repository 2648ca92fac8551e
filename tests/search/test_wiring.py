"""Every place a searchable thing changes tells search, after its commit: the domain
services through `search.public`, Wagtail's publish and unpublish through signals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from wagtail.actions.unpublish import UnpublishAction
from wagtail.actions.unpublish_page import UnpublishPageAction

from marketplace.models import Need, Organisation, Role
from marketplace.services.cases import need_transition
from marketplace.services.directory import organisation_create, organisation_verify
from marketplace.services.tenders import tender_cancel, tender_publish
from search.backends import get_backend
from search.backends.base import SearchQuery
from search.models import SearchOutbox
from tests import factories as f
from tests import procurement as p

pytestmark = pytest.mark.django_db


def keys(q: str) -> set[tuple[str, int]]:
    return {(h.type, h.id) for h in get_backend().search(SearchQuery(q=q, page_size=100)).hits}


def scheduled() -> list[tuple[str, int, str]]:
    return list(SearchOutbox.objects.order_by("pk").values_list("doc_type", "object_id", "action"))


def test_need_enters_and_leaves_the_index_with_the_open_pool(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = f.household(world, description="独居老人需要助浴服务")
    assert scheduled() == []  # submitted: not public, nothing to tell
    with django_capture_on_commit_callbacks(execute=True):
        need = f.open_need(world, result.need)
    assert ("need", need.pk) in keys("助浴")
    with django_capture_on_commit_callbacks(execute=True):
        need_transition(
            need=need, to=Need.Status.MATCHED, by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
        )
    assert ("need", need.pk) not in keys("助浴")
    assert not SearchOutbox.objects.exists()


def test_the_public_description_edited_on_opening_is_what_is_found(
    world, django_capture_on_commit_callbacks
):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    result = f.household(world, description="需要上门理发")
    need_transition(need=result.need, to=Need.Status.CONFIRMED, by=official)
    with django_capture_on_commit_callbacks(execute=True):
        need_transition(
            need=result.need,
            to=Need.Status.OPEN,
            by=official,
            public_description="高龄老人需要每月上门理发一次",
        )
    assert ("need", result.need.pk) in keys("每月上门理发")


def test_organisation_create_and_verify(world, django_capture_on_commit_callbacks):
    civil = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    with django_capture_on_commit_callbacks(execute=True):
        organisation = organisation_create(
            created_by=civil,
            name="七里站社区慈善公益互助会",
            kind=Organisation.Kind.MUTUAL_AID,
            area=world.street,
        )
    assert ("organisation", organisation.pk) not in keys("七里站")  # not verified yet
    with django_capture_on_commit_callbacks(execute=True):
        organisation_verify(organisation=organisation, verified_by=civil)
    assert ("organisation", organisation.pk) in keys("七里站")


def test_tender_publish_and_cancel(world, django_capture_on_commit_callbacks):
    civil = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = p.tender(world, state="draft")
    with django_capture_on_commit_callbacks(execute=True):
        tender_publish(tender=tender, by=civil)
    assert ("tender", tender.pk) in keys("探访服务采购")
    with django_capture_on_commit_callbacks(execute=True):
        tender_cancel(tender=tender, by=civil, reason="预算调整")
    hit = get_backend().search(SearchQuery(q="探访服务采购", status="cancelled")).hits
    assert [(h.type, h.id) for h in hit] == [("tender", tender.pk)]


def test_opportunity_create_update_cancel(world, django_capture_on_commit_callbacks):
    from volunteers.services import opportunity_cancel, opportunity_create, opportunity_update

    manager = world.users[Role.VOLUNTEER_MANAGER]
    start = timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        opportunity = opportunity_create(
            by=manager,
            organisation=world.federation,
            title="社区垃圾分类宣传",
            description="在小区门口宣传垃圾分类。",
            community=world.community,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            slots=5,
        )
    assert ("opportunity", opportunity.pk) in keys("垃圾分类")
    with django_capture_on_commit_callbacks(execute=True):
        opportunity_update(opportunity=opportunity, by=manager, title="社区防诈骗宣传")
    assert ("opportunity", opportunity.pk) in keys("防诈骗")
    with django_capture_on_commit_callbacks(execute=True):
        opportunity_cancel(opportunity=opportunity, by=manager, reason="天气原因")
    assert ("opportunity", opportunity.pk) not in keys("防诈骗")


def test_project_published_and_unpublished_through_wagtail(
    make_project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = make_project(publish=True, title="困境儿童心理疏导项目")
    assert ("project", page.pk) in keys("心理疏导")
    with django_capture_on_commit_callbacks(execute=True):
        UnpublishPageAction(page).execute(skip_permission_checks=True)
    assert ("project", page.pk) not in keys("心理疏导")


def test_catalogue_item_published_and_unpublished(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = p.catalogue_item(name="失能老人助浴服务")
    assert ("catalogue_item", item.pk) in keys("助浴")
    with django_capture_on_commit_callbacks(execute=True):
        UnpublishAction(item).execute(skip_permission_checks=True)
    assert ("catalogue_item", item.pk) not in keys("助浴")
    with django_capture_on_commit_callbacks(execute=True):
        item.save_revision().publish()
    assert ("catalogue_item", item.pk) in keys("助浴")
    with django_capture_on_commit_callbacks(execute=True):
        item.delete()
    assert ("catalogue_item", item.pk) not in keys("助浴")
