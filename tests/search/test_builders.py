"""Documents built from the domain's public selectors, and what never enters one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from marketplace import crypto
from marketplace.models import Case, CaseMember, Need, Role
from marketplace.services.cases import ID_PURPOSE, PHONE_PURPOSE, need_transition
from search import builders
from search.backends.base import DOC_TYPES
from search.models import SearchEntry
from tests import factories as f
from tests import procurement as p

pytestmark = pytest.mark.django_db


def one(doc_type, obj_id):
    return builders.docs_for(doc_type, [obj_id]).get(obj_id)


def test_organisation_document(world):
    d = one("organisation", world.charity.pk)
    assert d.title == "瑶海区慈善协会"
    assert d.url == f"/organisations/{world.charity.pk}/"
    assert (d.street_id, d.street) == (world.street.pk, "明光路街道")
    assert (d.status, d.status_display) == ("verified", "已认证")
    assert "慈善组织" in d.body


def test_unverified_organisation_has_no_document(world):
    assert one("organisation", world.charity_pending.pk) is None


def test_open_need_document_is_de_identified(world):
    result = f.household(world, head="赵桂芳", description="独居老人行动不便，需要每周上门探访")
    need = f.open_need(world, result.need)
    d = one("need", need.pk)
    assert d.url == f"/needs/open/{need.pk}/"
    assert "上门探访" in d.body and "明光路社区" in d.title
    assert (d.street_id, d.status) == (world.street.pk, "open")
    text = f"{d.title} {d.body} {d.url}"
    for secret in ("赵桂芳", result.case.full_id, result.case.full_phone):
        assert secret not in text


def test_need_not_open_has_no_document(world):
    result = f.household(world)
    assert one("need", result.need.pk) is None  # submitted, not yet open
    need = f.open_need(world, result.need)
    need_transition(
        need=need, to=Need.Status.CANCELLED, by=world.users[Role.STREET_OFFICIAL], reason="重复"
    )
    assert one("need", need.pk) is None


def test_project_document(make_project):
    page = make_project(publish=True, title="困难老人助餐服务")
    d = one("project", page.pk)
    assert d.title == "困难老人助餐服务"
    assert d.url == page.get_url()
    assert d.status == "live" and d.street == "明光路街道"
    assert "送一餐热饭" in d.body
    # The contact person and phone stay on the page, out of the index.
    assert "张老师" not in d.body and "13905510001" not in d.body


def test_draft_project_has_no_document(make_project):
    assert one("project", make_project(title="草稿项目").pk) is None


def test_catalogue_item_and_tender_documents(world):
    item = p.catalogue_item(name="居家养老上门探访")
    d = one("catalogue_item", item.pk)
    assert d.title == "居家养老上门探访"
    assert d.url.endswith(f"/catalogue/{item.year}/#item-{item.code}")
    assert d.service_type_id == item.service_type_id

    tender = p.tender(world, state="bidding", lots=2, item=item)
    t = one("tender", tender.pk)
    assert t.title == tender.title
    assert t.url.endswith(f"/tenders/{tender.pk}/")
    assert t.status == "published" and t.street_id == world.street.pk
    assert "胜利路街道" in t.body  # the second lot's street is in the text

    draft = p.tender(world, state="draft", item=item)
    assert one("tender", draft.pk) is None
    hidden = p.catalogue_item(live=False)
    assert one("catalogue_item", hidden.pk) is None


def test_opportunity_document(world):
    from volunteers.services import opportunity_create

    start = timezone.now() + timedelta(days=3)
    opportunity = opportunity_create(
        by=world.users[Role.VOLUNTEER_MANAGER],
        organisation=world.federation,
        title="重阳节敬老院陪伴",
        description="陪老人聊天、读报，协助开展文娱活动。",
        community=world.community,
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        slots=10,
    )
    d = one("opportunity", opportunity.pk)
    assert d.title == "重阳节敬老院陪伴" and d.status == "recruiting"
    assert d.url == f"/opportunities/{opportunity.pk}/"
    assert "明光路街道志愿者联合会" in d.body


def test_labels_are_stored_in_the_sites_language(world):
    from django.utils import translation

    with translation.override("en"):
        d = one("organisation", world.charity.pk)
    assert d.status_display == "已认证"


def test_no_personal_data_of_the_demo_in_any_document():
    """The demo's households through every builder and in the index the seed builds: no
    head's or member's name, ID number, phone or income in any title, text or link."""
    call_command("seed_demo", "--size", "small", verbosity=0)
    docs = [d for t in DOC_TYPES for d in builders.docs_all(t)]
    assert {d.type for d in docs} >= {"organisation", "need", "project", "catalogue_item"}
    texts = [f"{d.title}\n{d.body}\n{d.url}" for d in docs]
    texts += [f"{e.title}\n{e.body}\n{e.url}" for e in SearchEntry.objects.all()]
    assert SearchEntry.objects.count() == len(docs)
    secrets: set[str] = set()
    for case in Case.objects.all():
        secrets.add(case.head_name)
        if case.phone_cipher:
            secrets.add(crypto.decrypt(case.phone_cipher, purpose=PHONE_PURPOSE))
        if case.income_per_capita:
            secrets.add(f"{case.income_per_capita}元")
    for member in CaseMember.objects.all():
        secrets.add(member.name)
        secrets.add(crypto.decrypt(member.id_cipher, purpose=ID_PURPOSE))
    secrets.discard("")
    assert secrets
    leaks = sorted({s for s in secrets for text in texts if s in text})
    assert leaks == []
