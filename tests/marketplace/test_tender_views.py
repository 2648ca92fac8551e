"""Tender and bid pages: civil affairs' list (filters, export, constant queries), drafting,
lots, criteria, publishing with what is missing listed, answering, cancelling and the
opening; agency staff's open tenders, a tender's page with its answered questions, submitting,
revising and withdrawing a bid (typed values kept when refused), their bid list and the plan
download. Each page refuses other roles, and other agencies get 404 for a bid."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from marketplace.models import Bid, Criterion, Lot, Role, Tender, TenderQuestion
from marketplace.services.tenders import bid_submit, question_answer, question_ask
from tests import procurement as p
from tests.marketplace.test_tender_services import (  # noqa: F401
    DECLARED,
    close,
    submit,
)

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"procurement:{name}", args=args)


def bid_data(org, **extra):
    data = {
        "agency": org.pk,
        "price": "30000.00",
        "plan": p.plan_upload(),
        "team": [u.pk for u in org.worker_users],
        "info_true": "on",
        "no_collusion": "on",
        "no_debarment": "on",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def as_user(user):
    """A client of its own, signed in as `user` (the `client` fixture is shared)."""
    other = Client()
    other.force_login(user)
    return other


@pytest.fixture
def official(world, client):
    client.force_login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    return client


# --- Civil affairs: list ------------------------------------------------------------------


def test_tender_list_for_civil_affairs_and_auditors_only(world, client):
    p.tender(world, state="draft")
    for role, status in [
        (Role.CIVIL_AFFAIRS_OFFICIAL, 200),
        (Role.AUDITOR, 200),
        (Role.AGENCY_STAFF, 403),
        (Role.STREET_OFFICIAL, 403),
    ]:
        client.force_login(world.users[role])
        assert client.get(url("tender-list")).status_code == status, role
    client.logout()
    assert client.get(url("tender-list")).status_code == 302


def test_tender_list_filters_and_exports(world, official):
    draft = p.tender(world, state="draft")
    bidding = p.tender(world)
    body = official.get(url("tender-list"), {"status": "draft"}).content.decode()
    assert draft.reference in body and bidding.reference not in body
    assert official.get(url("tender-list"), {"status": "nonsense"}).status_code == 400
    response = official.get(url("tender-export"), {"status": "published"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.values)
    assert rows[0][0] == "项目编号" and [r[0] for r in rows[1:]] == [bidding.reference]


def test_tender_list_query_count_is_constant(world, official, django_assert_num_queries):
    for _ in range(2):
        p.tender(world, state="draft")
    with django_assert_num_queries(5) as small:
        official.get(url("tender-list"))
    for _ in range(4):
        p.tender(world, lots=2)
    with django_assert_num_queries(len(small.captured_queries)):
        response = official.get(url("tender-list"))
    assert response.content.decode().count('data-label="项目编号"') == 6


# --- Civil affairs: drafting --------------------------------------------------------------


def tender_post(**extra):
    now = timezone.localtime() + timedelta(days=1)
    data = {
        "reference": "YHMZ-2025-009",
        "title": "困难老人探访服务采购",
        "year": now.year,
        "scope": "上门探访",
        "qualification_requirements": "依法登记",
        "enquiry_ends_at": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "bid_opens_at": now.strftime("%Y-%m-%dT%H:%M"),
        "bid_closes_at": (now + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M"),
        "standstill_days": 7,
    }
    data.update(extra)
    return data


def test_create_a_tender(world, official):
    assert official.get(url("tender-create")).status_code == 200
    response = official.post(url("tender-create"), tender_post())
    tender = Tender.objects.get(reference="YHMZ-2025-009")
    assert response.status_code == 302 and response["Location"] == url("tender-manage", tender.pk)
    assert tender.buyer == world.civil_affairs


def test_create_refusal_keeps_what_was_typed(world, official):
    p.tender(world, state="draft")
    existing = Tender.objects.get().reference
    response = official.post(url("tender-create"), tender_post(reference=existing, title="保留"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "项目编号" in body and 'value="保留"' in body
    assert Tender.objects.count() == 1
    response = official.post(url("tender-create"), tender_post(bid_closes_at="2000-01-01T00:00"))
    assert response.status_code == 400 and "投标截止时间必须晚于投标开始时间" in (
        response.content.decode()
    )


def test_create_refused_to_other_roles(world, client):
    client.force_login(world.users[Role.AGENCY_STAFF])
    assert client.get(url("tender-create")).status_code == 403
    client.force_login(world.users[Role.AUDITOR])
    assert client.post(url("tender-create"), tender_post()).status_code == 403
    assert Tender.objects.count() == 0


def test_manage_page_shows_the_draft_and_weight_total(world, official, client):
    tender = p.tender(world, state="draft")
    response = official.get(url("tender-manage", tender.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="weight-total"' in body and "<strong>100</strong>" in body
    assert 'data-testid="lot-form"' in body
    client.force_login(world.users[Role.AUDITOR])
    body = client.get(url("tender-manage", tender.pk)).content.decode()
    assert 'data-testid="lot-form"' not in body and 'data-testid="publish"' not in body
    client.force_login(world.users[Role.AGENCY_STAFF])
    assert client.get(url("tender-manage", tender.pk)).status_code == 403


def test_edit_a_draft(world, official):
    tender = p.tender(world, state="draft")
    data = tender_post(reference=tender.reference, title="改过的名称")
    assert official.post(url("tender-update", tender.pk), data).status_code == 302
    tender.refresh_from_db()
    assert tender.title == "改过的名称"


def test_lots_added_refused_and_removed(world, official):
    tender = p.tender(world, state="draft")
    item = p.catalogue_item()
    data = {
        "title": "胜利路标段",
        "street": world.street2.pk,
        "catalogue_item": item.pk,
        "quantity": 100,
        "budget": "8000.01",
        "min_team_size": 2,
    }
    response = official.post(url("lot-add", tender.pk), data)
    assert response.status_code == 400
    assert "标段预算超过目录指导价×采购数量" in response.content.decode()
    assert tender.lots.count() == 1
    data["budget"] = "8000.00"
    assert official.post(url("lot-add", tender.pk), data).status_code == 302
    lot = tender.lots.get(number=2)
    auditor = as_user(world.users[Role.AUDITOR])
    assert auditor.post(url("lot-remove", tender.pk, lot.pk)).status_code == 403
    assert official.post(url("lot-remove", tender.pk, lot.pk)).status_code == 302
    assert not Lot.objects.filter(pk=lot.pk).exists()


def test_criteria_added_refused_and_removed(world, official):
    tender = p.tender(world, state="draft")
    data = {"kind": "price", "name": "报价", "weight": 10, "guidance": ""}
    response = official.post(url("criterion-add", tender.pk), data)
    assert response.status_code == 400 and "已有价格评分项" in response.content.decode()
    data.update(kind="other", name="社区评价")
    assert official.post(url("criterion-add", tender.pk), data).status_code == 302
    extra = tender.criteria.get(name="社区评价")
    body = official.get(url("tender-manage", tender.pk)).content.decode()
    assert "<strong>110</strong>" in body and "须为 100 才能发布" in body
    assert official.post(url("criterion-remove", tender.pk, extra.pk)).status_code == 302
    assert not Criterion.objects.filter(pk=extra.pk).exists()


def test_publish_lists_what_is_missing(world, official):
    tender = p.tender(world, state="draft")
    tender.criteria.filter(kind="plan").update(weight=10)
    response = official.post(url("tender-publish", tender.pk))
    assert response.status_code == 400
    assert "评分项权重合计须为100，当前为80" in response.content.decode()
    tender.refresh_from_db()
    assert tender.status == Tender.Status.DRAFT
    tender.criteria.filter(kind="plan").update(weight=30)
    assert official.post(url("tender-publish", tender.pk)).status_code == 302
    tender.refresh_from_db()
    assert tender.status == Tender.Status.PUBLISHED
    response = official.post(url("tender-publish", tender.pk))
    assert response.status_code == 409


def test_cancel_needs_a_reason(world, official):
    tender = p.tender(world)
    response = official.post(url("tender-cancel", tender.pk), {"reason": ""})
    assert response.status_code == 400 and "请填写终止原因" in response.content.decode()
    assert official.post(url("tender-cancel", tender.pk), {"reason": "预算调整"}).status_code == 302
    tender.refresh_from_db()
    assert tender.status == Tender.Status.CANCELLED


def test_answer_questions(world, official):
    tender = p.tender(world, state="enquiry")
    staff = world.users[Role.AGENCY_STAFF]
    question = question_ask(tender=tender, by=staff, organisation=world.agency, question="问题一")
    body = official.get(url("tender-manage", tender.pk)).content.decode()
    assert "问题一" in body and world.agency.name in body
    response = official.post(url("question-answer", tender.pk, question.pk), {"answer": " "})
    assert response.status_code == 400 and "请填写答复内容" in response.content.decode()
    auditor = as_user(world.users[Role.AUDITOR])
    response = auditor.post(url("question-answer", tender.pk, question.pk), {"answer": "x"})
    assert response.status_code == 403
    response = official.post(url("question-answer", tender.pk, question.pk), {"answer": "答复一"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.answer == "答复一"


def test_opening_from_the_page(world, official):
    tender = p.tender(world)
    lot = tender.lots.get()
    org = p.agency(world.street)
    submit(lot, org, price="31234.56")
    body = official.get(url("tender-manage", tender.pk)).content.decode()
    assert "31234.56" not in body and 'data-testid="bids"' not in body
    response = official.post(url("tender-open", tender.pk))
    assert response.status_code == 409 and "投标尚未截止，不能开标" in response.content.decode()
    close(tender)
    body = official.get(url("tender-manage", tender.pk)).content.decode()
    assert url("tender-open", tender.pk) in body
    assert official.post(url("tender-open", tender.pk)).status_code == 302
    body = official.get(url("tender-manage", tender.pk)).content.decode()
    assert "31234.56" in body and org.name in body and url("bid-plan", Bid.objects.get().pk) in body


# --- Agency staff -------------------------------------------------------------------------


@pytest.fixture
def bidder(world, client):
    org = p.agency(world.street)
    client.force_login(org.staff_user)
    client.org = org
    return client


def test_open_list_shows_tenders_taking_bids(world, bidder):
    draft, enquiry, bidding = (p.tender(world, state=s) for s in ("draft", "enquiry", "bidding"))
    closed = p.tender(world, state="closed")
    body = bidder.get(url("tender-open-list")).content.decode()
    assert enquiry.title in body and bidding.title in body and "距截止还有" in body
    assert draft.title not in body and closed.title not in body
    assert (
        as_user(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(url("tender-open-list")).status_code
        == 403
    )


def test_open_list_query_count_is_constant(world, bidder, django_assert_num_queries):
    for _ in range(2):
        p.tender(world)
    with django_assert_num_queries(5) as small:
        bidder.get(url("tender-open-list"))
    for _ in range(4):
        p.tender(world, lots=2)
    with django_assert_num_queries(len(small.captured_queries)):
        bidder.get(url("tender-open-list"))


def test_tender_page_for_a_bidder(world, bidder):
    tender = p.tender(world)
    question = question_ask(
        tender=tender, by=bidder.org.staff_user, organisation=bidder.org, question="问一"
    )
    question_answer(question=question, by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL], answer="答一")
    question_ask(tender=tender, by=bidder.org.staff_user, organisation=bidder.org, question="未答")
    body = bidder.get(url("tender-detail-agency", tender.pk)).content.decode()
    assert "问一" in body and "答一" in body and "未答" not in body
    assert bidder.org.name not in body.split('data-testid="answers"')[1]
    assert url("bid-create", tender.lots.get().pk) in body
    draft = p.tender(world, state="draft")
    assert bidder.get(url("tender-detail-agency", draft.pk)).status_code == 404
    assert (
        as_user(world.users[Role.STREET_OFFICIAL])
        .get(url("tender-detail-agency", tender.pk))
        .status_code
        == 403
    )


def test_ask_a_question(world, bidder):
    tender = p.tender(world)
    response = bidder.post(url("question-ask", tender.pk), {"question": "可以联合体投标吗？"})
    assert response.status_code == 302
    assert TenderQuestion.objects.get().organisation == bidder.org
    Tender.objects.filter(pk=tender.pk).update(enquiry_ends_at=timezone.now())
    response = bidder.post(url("question-ask", tender.pk), {"question": "晚了"})
    assert response.status_code == 409 and "答疑期已结束" in response.content.decode()
    assert TenderQuestion.objects.count() == 1


def test_submit_a_bid(world, bidder):
    tender = p.tender(world)
    lot = tender.lots.get()
    response = bidder.get(url("bid-create", lot.pk))
    assert response.status_code == 200 and "密封递交" in response.content.decode()
    response = bidder.post(url("bid-create", lot.pk), bid_data(bidder.org))
    assert response.status_code == 302
    bid = Bid.objects.get()
    assert bid.agency == bidder.org and bid.price is None
    body = bidder.get(url("tender-detail-agency", tender.pk)).content.decode()
    assert "已递交（密封）" in body and url("bid-withdraw", bid.pk) in body


def test_a_refused_bid_keeps_what_was_typed(world, bidder):
    lot = p.tender(world).lots.get()
    response = bidder.post(
        url("bid-create", lot.pk), bid_data(bidder.org, price="40000.01", no_debarment=None)
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "报价超过标段预算" in body or "请确认" in body
    assert 'value="40000.01"' in body and "请重新选择服务方案文件" in body
    assert Bid.objects.count() == 0
    bad = SimpleUploadedFile("a.pdf", b"MZ\x90\x00 not a document", "application/pdf")
    response = bidder.post(url("bid-create", lot.pk), bid_data(bidder.org, plan=bad))
    assert response.status_code == 400 and "只接受 PDF 或 Word" in response.content.decode()
    assert Bid.objects.count() == 0


def test_a_late_bid_is_refused(world, bidder):
    tender = p.tender(world)
    lot = tender.lots.get()
    close(tender)
    response = bidder.post(url("bid-create", lot.pk), bid_data(bidder.org))
    assert response.status_code == 409 and "投标已截止" in response.content.decode()
    assert Bid.objects.count() == 0


def test_bid_refused_to_other_roles_and_unverified_agencies(world, client):
    lot = p.tender(world).lots.get()
    client.force_login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert client.get(url("bid-create", lot.pk)).status_code == 403
    org = p.agency(world.street, verified=False)
    client.force_login(org.staff_user)
    assert client.get(url("bid-create", lot.pk)).status_code == 403
    assert client.post(url("bid-create", lot.pk), bid_data(org)).status_code == 403
    assert Bid.objects.count() == 0


def test_revise_and_withdraw_a_bid(world, bidder):
    lot = p.tender(world).lots.get()
    bid = submit(lot, bidder.org, price="30000.00")
    response = bidder.get(url("bid-update", bid.pk))
    assert response.status_code == 200 and "30000.00" in response.content.decode()
    data = bid_data(bidder.org, price="29000.00", plan=None)
    assert bidder.post(url("bid-update", bid.pk), data).status_code == 302
    body = bidder.get(url("bid-update", bid.pk)).content.decode()
    assert "29000.00" in body
    other = p.agency(world.street)
    stranger = as_user(other.staff_user)
    assert stranger.get(url("bid-update", bid.pk)).status_code == 404
    assert stranger.post(url("bid-withdraw", bid.pk)).status_code == 404
    assert bidder.post(url("bid-withdraw", bid.pk)).status_code == 302
    bid.refresh_from_db()
    assert bid.status == Bid.Status.WITHDRAWN


def test_my_bids_and_plan_download(world, bidder):
    tender = p.tender(world)
    bid = submit(tender.lots.get(), bidder.org)
    body = bidder.get(url("bid-list-mine")).content.decode()
    assert tender.title in body and "密封中" in body
    response = bidder.get(url("bid-plan", bid.pk))
    assert response.status_code == 200 and response.content == p.PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert (
        as_user(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(url("bid-list-mine")).status_code
        == 403
    )


def test_my_bids_query_count_is_constant(world, bidder, django_assert_num_queries):
    org = bidder.org

    def bids(n):
        for _ in range(n):
            bid_submit(
                lot=p.tender(world).lots.get(),
                by=org.staff_user,
                agency=org,
                price=Decimal("100.00"),
                plan=p.plan_upload(),
                team=org.worker_users,
                declarations=DECLARED,
            )

    bids(2)
    with django_assert_num_queries(6) as small:
        bidder.get(url("bid-list-mine"))
    bids(4)
    with django_assert_num_queries(len(small.captured_queries)):
        response = bidder.get(url("bid-list-mine"))
    assert response.content.decode().count('data-label="项目"') == 6
