"""The public procurement pages (/procurement/): tenders with filters, the catalogue by year
with its Excel download, each tender's notice at every stage, and the links other pages use.
Drafts never show; before the close nothing of any bid shows, not even how many there are,
whoever is signed in; questions show without who asked; results show agency names and
totals, never a plan or a team."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from cms.models import ProcurementIndexPage
from marketplace.models import (
    Bid,
    CatalogueItem,
    Complaint,
    DeliveryRecord,
    Lot,
    Role,
    Tender,
    TenderQuestion,
)
from tests import procurement as P

pytestmark = pytest.mark.django_db

BASE = "/procurement/"


def sealed_bid(lot: Lot, org) -> Bid:
    """A bid as it stands before the close: only ciphertext, no plain fields."""
    now = timezone.now()
    return Bid.objects.create(
        lot=lot,
        agency=org,
        submitted_by=org.staff_user,
        submitted_at=now - timedelta(hours=1),
        revised_at=now - timedelta(hours=1),
        sealed="gAAAAABsealedciphertext",
    )


def ask(tender: Tender, org, user, question: str, answer: str = "") -> TenderQuestion:
    q = TenderQuestion.objects.create(
        tender=tender, organisation=org, asked_by=user, question=question
    )
    if answer:
        q.answer = answer
        q.answered_by = user
        q.answered_at = timezone.now()
        q.save()
    return q


def opened(tender: Tender) -> Tender:
    tender.status = Tender.Status.OPENED
    tender.opened_at = timezone.now()
    tender.save(update_fields=["status", "opened_at"])
    return tender


def money(amount: str) -> str:
    """An amount as the pages show it (`floatformat:"2g"` in the site's locale)."""
    from django.template.defaultfilters import floatformat

    return floatformat(Decimal(amount), "2g")


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the site-root cache, as on a running server
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- The page itself ----------------------------------------------------------------------


def test_one_procurement_page_under_home_made_by_the_migration(client):
    page = ProcurementIndexPage.objects.get()
    assert page.slug == "procurement"
    assert page.title == "政府购买服务"
    assert page.live
    assert page.get_parent().specific_class.__name__ == "HomePage"
    assert not ProcurementIndexPage.can_create_at(page.get_parent())  # max_count = 1
    response = client.get(BASE)
    assert response.status_code == 200
    assert page.lead in response.content.decode()


# --- Tender list --------------------------------------------------------------------------


def test_tender_list_shows_published_tenders_never_drafts(world, client):
    draft = P.tender(world, state="draft")
    live = P.tender(world, state="bidding")
    cancelled = P.tender(world, state="enquiry")
    cancelled.status = Tender.Status.CANCELLED
    cancelled.save(update_fields=["status"])
    body = client.get(BASE).content.decode()
    assert live.title in body
    assert cancelled.title in body
    assert draft.title not in body
    assert world.street.name in body
    assert f"{BASE}tenders/{live.pk}/" in body
    assert f"{BASE}catalogue/" in body


def test_tender_list_filters_by_status_year_and_street(world, client):
    one_street = P.tender(world, state="bidding", lots=1)
    two_streets = P.tender(world, state="closed", lots=2)
    old = P.tender(world, state="bidding")
    old.year = 2020
    old.save(update_fields=["year"])
    opened(two_streets)

    body = client.get(BASE, {"street": world.street2.pk}).content.decode()
    assert two_streets.title in body and one_street.title not in body

    body = client.get(BASE, {"status": "opened"}).content.decode()
    assert two_streets.title in body and one_street.title not in body

    body = client.get(BASE, {"year": 2020}).content.decode()
    assert old.title in body and one_street.title not in body


@pytest.mark.parametrize(
    "query", [{"status": "draft"}, {"year": "明年"}, {"street": "999999"}, {"year": 1900}]
)
def test_bad_tender_filter_is_400_with_a_chinese_error(world, client, query):
    tender = P.tender(world, state="bidding")
    response = client.get(BASE, query)
    assert response.status_code == 400
    body = response.content.decode()
    assert tender.title not in body
    assert 'class="errorlist' in body
    assert any(word in body for word in ("选择", "输入", "确保"))


def test_tender_list_pages(world, client, settings):
    from marketplace import web

    item = P.catalogue_item()
    for _ in range(web.PAGE_SIZE + 1):
        P.tender(world, state="bidding", item=item)
    body = client.get(BASE).content.decode()
    assert "第 1 / 2 页" in body
    assert client.get(BASE, {"page": 2}).status_code == 200


def test_tender_list_query_count_does_not_grow_with_rows(world, client):
    item = P.catalogue_item()
    for _ in range(2):
        P.tender(world, state="bidding", lots=2, item=item)
    few = count_queries(client, BASE)
    for _ in range(4):
        P.tender(world, state="bidding", lots=2, item=item)
    assert count_queries(client, BASE) == few
    assert few <= 12


# --- Catalogue ----------------------------------------------------------------------------


def test_catalogue_years_show_only_published_items(world, client):
    P.catalogue_item(year=2025)
    P.catalogue_item(year=2025, in_service_list=False)
    P.catalogue_item(year=2024)
    P.catalogue_item(year=2023, live=False)
    response = client.get(f"{BASE}catalogue/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"{BASE}catalogue/2025/" in body
    assert f"{BASE}catalogue/2024/" in body
    assert "2023" not in body
    assert "共 2 项，其中服务清单 1 项" in body


def test_catalogue_of_a_year_lists_live_items_with_anchors_and_filters(world, client):
    listed = P.catalogue_item(year=2025, name="独居老人探访", code="YH-A01")
    other = P.catalogue_item(
        year=2025,
        name="困境儿童关爱",
        code="YH-B01",
        category=CatalogueItem.Category.CHILDREN,
        in_service_list=False,
    )
    draft = P.catalogue_item(year=2025, name="尚未发布的服务", code="YH-C01", live=False)
    P.catalogue_item(year=2024, name="上一年度的服务", code="YH-A01")
    url = f"{BASE}catalogue/2025/"

    body = client.get(url).content.decode()
    assert 'id="item-YH-A01"' in body and 'id="item-YH-B01"' in body
    assert listed.name in body and other.name in body
    assert draft.name not in body and "上一年度的服务" not in body
    assert listed.service_standard in body and "80.00" in body

    body = client.get(url, {"category": "children"}).content.decode()
    assert other.name in body and listed.name not in body

    body = client.get(url, {"service_list_only": "on"}).content.decode()
    assert listed.name in body and other.name not in body


def test_catalogue_year_without_published_items_is_404(world, client):
    P.catalogue_item(year=2023, live=False)
    assert client.get(f"{BASE}catalogue/2023/").status_code == 404
    assert client.get(f"{BASE}catalogue/1999/").status_code == 404


def test_bad_catalogue_filter_is_400(world, client):
    P.catalogue_item(year=2025)
    response = client.get(f"{BASE}catalogue/2025/", {"category": "weapons"})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    response = client.get(f"{BASE}catalogue/2025/export/", {"category": "weapons"})
    assert response.status_code == 400
    assert "选择" in response.content.decode()


def test_catalogue_excel_has_the_filtered_live_items(world, client):
    P.catalogue_item(year=2025, name="=独居老人探访", code="YH-A01")
    P.catalogue_item(
        year=2025, name="困境儿童关爱", code="YH-B01", category=CatalogueItem.Category.CHILDREN
    )
    P.catalogue_item(year=2025, name="尚未发布的服务", code="YH-C01", live=False)
    response = client.get(f"{BASE}catalogue/2025/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "catalogue-2025" in response["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("目录编码", "服务名称", "服务类别")
    assert [r[0] for r in rows[1:]] == ["YH-A01", "YH-B01"]
    assert rows[1][1] == "'=独居老人探访"  # never run as a formula
    response = client.get(f"{BASE}catalogue/2025/export/", {"category": "children"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["YH-B01"]


def test_catalogue_query_count_does_not_grow_with_rows(world, client):
    for _ in range(2):
        P.catalogue_item(year=2025)
    few = count_queries(client, f"{BASE}catalogue/2025/")
    for _ in range(4):
        P.catalogue_item(year=2025)
    assert count_queries(client, f"{BASE}catalogue/2025/") == few
    assert count_queries(client, f"{BASE}catalogue/") <= 8


# --- Tender notice ------------------------------------------------------------------------


def test_draft_tender_notice_is_404_for_everyone(world, client, login):
    draft = P.tender(world, state="draft")
    assert client.get(f"{BASE}tenders/{draft.pk}/").status_code == 404
    assert client.get(f"{BASE}tenders/{draft.pk}/ocds/").status_code == 404
    assert client.get(f"{BASE}tenders/999999/").status_code == 404
    official = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert official.get(f"{BASE}tenders/{draft.pk}/").status_code == 404


def test_notice_in_bidding_shows_lots_criteria_answers_and_a_countdown(world, client):
    tender = P.tender(world, state="bidding", lots=2)
    asker = P.agency(world.street, name="提问的社工机构")
    ask(tender, asker, asker.staff_user, "服务对象名单何时提供？", "中标后三日内提供。")
    ask(tender, asker, asker.staff_user, "尚未答复的问题？")
    response = client.get(f"{BASE}tenders/{tender.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tender.title in body and tender.reference in body
    assert tender.qualification_requirements in body
    assert world.street.name in body and world.street2.name in body
    lot = tender.lots.first()
    assert f"#item-{lot.catalogue_item.code}" in body
    assert money("40000.00") in body
    assert "投标报价" in body and "40%" in body and "服务方案" in body and "30%" in body
    assert "服务对象名单何时提供？" in body and "中标后三日内提供。" in body
    assert "尚未答复的问题？" not in body
    assert asker.name not in body and asker.staff_user.username not in body
    assert "距投标截止还有" in body
    assert f"{BASE}tenders/{tender.pk}/ocds/" in body


@pytest.mark.parametrize("role", [None, Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR])
def test_notice_before_close_says_nothing_of_bids_whoever_asks(world, client, login, role):
    tender = P.tender(world, state="bidding")
    lot = tender.lots.get()
    bidder = P.agency(world.street, name="投标的社工机构")
    sealed_bid(lot, bidder)
    viewer = login(world.users[role]) if role else client
    body = viewer.get(f"{BASE}tenders/{tender.pk}/").content.decode()
    assert bidder.name not in body
    assert 'data-testid="bid-count"' not in body
    assert "投标截止前不公开投标情况" in body
    assert "采购结果" not in body


def test_notice_after_close_counts_bids_per_lot_and_names_bidders(world, client):
    tender = P.tender(world, state="closed", lots=2)
    lot1, lot2 = tender.lots.order_by("number")
    a, b = P.agency(world.street, name="甲社工"), P.agency(world.street, name="乙社工")
    sealed_bid(lot1, a)
    sealed_bid(lot1, b)
    withdrawn = sealed_bid(lot2, b)
    withdrawn.status = Bid.Status.WITHDRAWN
    withdrawn.save(update_fields=["status"])
    body = client.get(f"{BASE}tenders/{tender.pk}/").content.decode()
    counts = body.split('data-testid="bid-count">')[1:]
    assert [c.split("<")[0] for c in counts] == ["2", "0"]
    assert "共 2 家机构投标" in body and "甲社工" in body and "乙社工" in body
    assert "评审中，结果尚未公布" in body


def test_notice_after_award_shows_result_ranking_and_complaints_without_plan_or_team(world, client):
    tender = opened(P.tender(world, state="closed"))
    lot = tender.lots.get()
    winner, runner = P.agency(world.street, name="甲社工"), P.agency(world.street, name="乙社工")
    win_bid = P.opened_bid(lot, winner, price=Decimal("36000.00"))
    lose_bid = P.opened_bid(lot, runner, price=Decimal("38000.00"))
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    award = P.award(lot, win_bid, official, final=False)
    award.ranking = [
        {"bid": win_bid.pk, "agency_id": winner.pk, "agency": winner.name, "price": "36000.00",
         "total": "88.50", "rank": 1, "criteria": []},
        {"bid": lose_bid.pk, "agency_id": runner.pk, "agency": runner.name, "price": "38000.00",
         "total": "80.25", "rank": 2, "criteria": []},
    ]  # fmt: skip
    award.save(update_fields=["ranking"])
    for status in (Complaint.Status.DISMISSED, Complaint.Status.OPEN):
        Complaint.objects.create(
            award=award,
            organisation=runner,
            lodged_by=runner.staff_user,
            grounds="评分不公。",
            status=status,
            response="经复核，评分无误。" if status != "open" else "",
        )
    body = client.get(f"{BASE}tenders/{tender.pk}/").content.decode()
    section = body.split('data-testid="award-1"')[1]
    assert "甲社工" in section and money("36000.00") in section
    assert timezone.localtime(award.standstill_ends_at).strftime("%Y-%m-%d %H:%M") in section
    assert "<dt>已答复质疑</dt><dd>1</dd>" in section
    ranking = body.split('data-testid="ranking-1"')[1].split("</table>")[0]
    assert "88.50" in ranking and "80.25" in ranking and "乙社工" in ranking
    assert "38000" not in body and "38,000" not in body  # a losing price is not published
    assert win_bid.plan_name not in body
    for worker in winner.worker_users + runner.worker_users:
        assert worker.username not in body
    assert "评分不公" not in body  # the grounds stay with civil affairs


def test_notice_shows_contracts_with_milestones_and_delivered_units(world, client):
    tender = opened(P.tender(world, state="closed", quantity=600))
    lot = tender.lots.get()
    agency = P.agency(world.street, name="甲社工")
    contract = P.contract(world, lot, agency)
    first = contract.milestones.order_by("position").first()
    for units in ("120", "30.5"):
        DeliveryRecord.objects.create(
            milestone=first,
            units=Decimal(units),
            delivered_on=timezone.localdate(),
            source=DeliveryRecord.Source.AGENCY,
            description="上门探访",
            entered_by=agency.staff_user,
        )
    body = client.get(f"{BASE}tenders/{tender.pk}/").content.decode()
    block = body.split(f'data-testid="contract-{contract.number}"')[1]
    assert "甲社工" in block and money("36000.00") in block
    assert contract.starts_on.strftime("%Y-%m-%d") in block
    assert "第1阶段服务" in block and "300 人次" in block and "150.50 人次" in block


def test_notice_query_count_does_not_grow_with_rows(world, client):
    def build(n: int) -> Tender:
        tender = opened(P.tender(world, state="closed", lots=2))
        lot1, lot2 = tender.lots.order_by("number")
        official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
        agencies = [P.agency(world.street) for _ in range(n)]
        for org in agencies:
            ask(tender, org, org.staff_user, "问题？", "答复。")
            P.opened_bid(lot2, org, price=Decimal("30000"))
        bid = P.opened_bid(lot1, agencies[0], price=Decimal("30000"))
        award = P.award(lot1, bid, official)
        award.ranking = [{"agency": org.name, "total": "80", "rank": i} for i, org in
                         enumerate(agencies, start=1)]  # fmt: skip
        award.save(update_fields=["ranking"])
        P.contract(world, lot2, P.agency(world.street2))
        return tender

    few = count_queries(client, f"{BASE}tenders/{build(2).pk}/")
    many = count_queries(client, f"{BASE}tenders/{build(6).pk}/")
    assert many == few
    assert few <= 16


# --- OCDS route ---------------------------------------------------------------------------


def test_ocds_route_serves_the_release_package(world, client):
    tender = P.tender(world, state="bidding")
    response = client.get(f"{BASE}tenders/{tender.pk}/ocds/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Access-Control-Allow-Origin"] == "*"
    package = response.json()
    assert package["uri"] == f"http://testserver{BASE}tenders/{tender.pk}/ocds/"
    assert package["releases"][0]["tender"]["id"] == tender.reference
    assert tender.title in response.content.decode()  # not escaped to \\u sequences


# --- Links for other pages ----------------------------------------------------------------


def render_links(tender, year, request=None) -> list[str]:
    template = Template(
        "{% load procurement_links %}{% procurement_index_url %}|{% catalogue_url %}|"
        "{% catalogue_url year %}|{% public_tender_url tender %}|"
        "{% public_tender_ocds_url tender %}"
    )
    return template.render(Context({"tender": tender, "year": year, "request": request})).split("|")


def test_link_tags_give_the_public_urls_and_look_the_page_up_once(world):
    tender = P.tender(world, state="bidding")
    request = RequestFactory().get("/workbench/")
    links = render_links(tender, 2025, request)
    assert links == [
        BASE,
        f"{BASE}catalogue/",
        f"{BASE}catalogue/2025/",
        f"{BASE}tenders/{tender.pk}/",
        f"{BASE}tenders/{tender.pk}/ocds/",
    ]
    with CaptureQueriesContext(connection) as ctx:
        assert render_links(tender.pk, "2025", request)[3] == f"{BASE}tenders/{tender.pk}/"
    assert len(ctx.captured_queries) == 0  # cached on the request


def test_link_tags_are_empty_without_the_page(world):
    tender = P.tender(world, state="bidding")
    ProcurementIndexPage.objects.get().delete()
    assert render_links(tender, 2025) == ["", "", "", "", ""]
