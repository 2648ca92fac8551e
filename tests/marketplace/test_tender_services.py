"""Tender and bid services: drafting (lots numbered, live catalogue items, budgets within
the guidance price, weights), publishing with every missing piece named, cancelling,
enquiries, sealed bids (window by server time, a second late refused, qualification of the
bidder and team, price, declarations and the plan document judged by content), revising
and withdrawing, and the opening (idempotent, lots without bids fail, withdrawn bids stay
sealed). Every refusal leaves the database as it was."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from marketplace import crypto
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Bid,
    Criterion,
    Lot,
    Organisation,
    PerformanceReview,
    Role,
    Tender,
    TenderQuestion,
)
from marketplace.selectors.tenders import (
    agency_may_bid,
    bid_count_public,
    bid_plan_read,
    bid_sealed_content,
)
from marketplace.services.tenders import (
    BidWindowClosed,
    bid_revise,
    bid_submit,
    bid_withdraw,
    criterion_add,
    criterion_remove,
    lot_add,
    lot_remove,
    question_answer,
    question_ask,
    tender_cancel,
    tender_create,
    tender_open,
    tender_open_due,
    tender_publish,
    tender_update,
)
from tests import factories as f
from tests import procurement as p

pytestmark = pytest.mark.django_db

DECLARED = {"info_true": True, "no_collusion": True, "no_debarment": True}


def official(world):
    return world.users[Role.CIVIL_AFFAIRS_OFFICIAL]


def submit(lot, org, *, price="30000.00", plan=None, team=None, declarations=None, by=None):
    return bid_submit(
        lot=lot,
        by=by or org.staff_user,
        agency=org,
        price=price,
        plan=plan or p.plan_upload(),
        team=org.worker_users if team is None else team,
        declarations=DECLARED if declarations is None else declarations,
    )


def snapshot():
    return (
        list(Bid.objects.order_by("pk").values()),
        list(Tender.objects.order_by("pk").values()),
        list(Lot.objects.order_by("pk").values()),
        list(Criterion.objects.order_by("pk").values()),
        list(TenderQuestion.objects.order_by("pk").values()),
    )


def close(tender):
    Tender.objects.filter(pk=tender.pk).update(
        bid_closes_at=timezone.now() - timedelta(seconds=1),
        enquiry_ends_at=timezone.now() - timedelta(days=1),
    )
    tender.refresh_from_db()
    return tender


def draft_args(**extra):
    now = timezone.now()
    return {
        "reference": "YHMZ-2025-001",
        "title": "困难老人探访服务",
        "year": now.year,
        "scope": "上门探访。",
        "qualification_requirements": "依法登记。",
        "enquiry_ends_at": now + timedelta(days=3),
        "bid_opens_at": now + timedelta(days=1),
        "bid_closes_at": now + timedelta(days=10),
        **extra,
    }


# --- Drafting ---------------------------------------------------------------------------


def test_create_sets_the_buyer_and_only_civil_affairs_may(world):
    tender = tender_create(by=official(world), **draft_args())
    assert tender.buyer == world.civil_affairs and tender.status == Tender.Status.DRAFT
    with pytest.raises(NotPermitted):
        tender_create(by=world.users[Role.AGENCY_STAFF], **draft_args(reference="X-2"))
    with pytest.raises(ValidationError) as exc:
        tender_create(by=official(world), **draft_args())
    assert "reference" in exc.value.message_dict
    assert Tender.objects.count() == 1


def test_create_refuses_a_close_before_the_opening(world):
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        tender_create(by=official(world), **draft_args(bid_opens_at=now + timedelta(days=11)))
    assert "投标截止时间必须晚于投标开始时间" in str(exc.value)


def test_update_only_while_draft(world):
    tender = p.tender(world, state="draft")
    tender_update(tender=tender, by=official(world), title="新名称")
    tender.refresh_from_db()
    assert tender.title == "新名称"
    published = p.tender(world, state="bidding")
    with pytest.raises(InvalidState):
        tender_update(tender=published, by=official(world), title="改")
    with pytest.raises(NotPermitted):
        tender_update(tender=tender, by=world.users[Role.AUDITOR], title="改")


def test_lots_are_numbered_and_renumbered(world):
    tender = p.tender(world, state="draft", lots=2)
    item = p.catalogue_item()
    third = lot_add(
        tender=tender,
        by=official(world),
        title="第三标段",
        street=world.street,
        catalogue_item=item,
        quantity=100,
        budget=Decimal("8000.00"),
    )
    assert third.number == 3
    lot_remove(lot=tender.lots.get(number=1), by=official(world))
    assert list(tender.lots.order_by("number").values_list("number", "title")) == [
        (1, f"{world.street2.name}困难老人探访"),
        (2, "第三标段"),
    ]


def test_lot_add_refusals(world):
    tender = p.tender(world, state="draft")
    item = p.catalogue_item()
    before = snapshot()
    by = official(world)
    with pytest.raises(ValidationError, match="标段预算超过目录指导价×采购数量"):
        lot_add(
            tender=tender,
            by=by,
            title="超预算",
            street=world.street,
            catalogue_item=item,
            quantity=100,
            budget=Decimal("8000.01"),
        )
    with pytest.raises(ValidationError) as exc:
        lot_add(
            tender=tender,
            by=by,
            title="未发布条目",
            street=world.street,
            catalogue_item=p.catalogue_item(live=False),
            quantity=10,
            budget=Decimal("100"),
        )
    assert "catalogue_item" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        lot_add(
            tender=tender,
            by=by,
            title="社区",
            street=world.community,
            catalogue_item=item,
            quantity=10,
            budget=Decimal("100"),
        )
    assert "street" in exc.value.message_dict
    assert snapshot() == before


def test_criteria_one_price_and_draft_only(world):
    tender = p.tender(world, state="draft")
    by = official(world)
    with pytest.raises(ValidationError, match="已有价格评分项"):
        criterion_add(tender=tender, by=by, kind="price", name="报价2", weight=10)
    with pytest.raises(ValidationError) as exc:
        criterion_add(tender=tender, by=by, kind="other", name="其他", weight=0)
    assert "weight" in exc.value.message_dict
    extra = criterion_add(tender=tender, by=by, kind="other", name="社区评价", weight=5)
    criterion_remove(criterion=extra, by=by)
    assert tender.criteria.count() == 4


# --- Publishing and cancelling -----------------------------------------------------------


def test_publish_a_complete_draft(world):
    tender = p.tender(world, state="draft")
    tender_publish(tender=tender, by=official(world))
    tender.refresh_from_db()
    assert tender.status == Tender.Status.PUBLISHED and tender.published_by == official(world)


def test_publish_names_every_problem_and_changes_nothing(world):
    tender = tender_create(by=official(world), **draft_args())
    criterion_add(tender=tender, by=official(world), kind="price", name="报价", weight=60)
    Tender.objects.filter(pk=tender.pk).update(bid_closes_at=timezone.now() - timedelta(hours=1))
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        tender_publish(tender=tender, by=official(world))
    text = " ".join(exc.value.messages)
    assert "请至少添加一个标段" in text
    assert "权重合计须为100，当前为60" in text
    assert "除价格外，至少还需要一个评分项" in text
    assert "投标截止时间已过" in text
    assert "答疑截止时间不能晚于投标截止时间" in text
    assert snapshot() == before


def test_publish_needs_a_price_criterion(world):
    tender = p.tender(world, state="draft")
    tender.criteria.filter(kind="price").delete()
    criterion_add(tender=tender, by=official(world), kind="other", name="其他", weight=40)
    with pytest.raises(ValidationError, match="须有且只有一个价格评分项"):
        tender_publish(tender=tender, by=official(world))


def test_cancel_before_opening_fails_the_lots(world):
    tender = p.tender(world, state="bidding", lots=2)
    with pytest.raises(ValidationError) as exc:
        tender_cancel(tender=tender, by=official(world), reason="  ")
    assert "reason" in exc.value.message_dict
    tender_cancel(tender=tender, by=official(world), reason="预算调整")
    tender.refresh_from_db()
    assert tender.status == Tender.Status.CANCELLED
    assert set(tender.lots.values_list("status", flat=True)) == {Lot.Status.FAILED}
    opened = close(p.tender(world, state="bidding"))
    tender_open(tender=opened)
    with pytest.raises(InvalidState):
        tender_cancel(tender=opened, by=official(world), reason="太晚")


# --- Enquiries --------------------------------------------------------------------------


def test_questions_in_the_enquiry_period_and_answers(world):
    tender = p.tender(world, state="enquiry")
    staff = world.users[Role.AGENCY_STAFF]
    q = question_ask(
        tender=tender, by=staff, organisation=world.agency, question="  可否联合体投标？ "
    )
    assert q.question == "可否联合体投标？"
    with pytest.raises(ValidationError):
        question_answer(question=q, by=official(world), answer=" ")
    with pytest.raises(NotPermitted):
        question_answer(question=q, by=staff, answer="可以")
    question_answer(question=q, by=official(world), answer="不接受联合体投标。")
    q.refresh_from_db()
    assert q.answer == "不接受联合体投标。" and q.answered_at is not None


def test_question_refusals(world):
    tender = p.tender(world, state="enquiry")
    staff = world.users[Role.AGENCY_STAFF]
    with pytest.raises(NotPermitted):
        question_ask(tender=tender, by=staff, organisation=world.station, question="?")
    with pytest.raises(NotPermitted):
        question_ask(
            tender=tender,
            by=world.users[Role.CHARITY_STAFF],
            organisation=world.charity,
            question="?",
        )
    with pytest.raises(ValidationError):
        question_ask(tender=tender, by=staff, organisation=world.agency, question=" ")
    Tender.objects.filter(pk=tender.pk).update(enquiry_ends_at=timezone.now())
    with pytest.raises(InvalidState, match="答疑期已结束"):
        question_ask(tender=tender, by=staff, organisation=world.agency, question="晚了？")
    draft = p.tender(world, state="draft")
    with pytest.raises(InvalidState):
        question_ask(tender=draft, by=staff, organisation=world.agency, question="草稿？")
    assert TenderQuestion.objects.count() == 0


# --- Sealed bids ------------------------------------------------------------------------


def test_a_bid_is_sealed_until_opening(world):
    tender = p.tender(world)
    lot = tender.lots.get()
    org = p.agency(world.street)
    bid = submit(lot, org, plan=p.plan_upload("我的方案.pdf"))
    bid.refresh_from_db()
    assert bid.price is None and bid.plan_name == "" and bid.declarations == {}
    assert bid.opened_at is None and not bid.team.exists()
    assert "30000" not in bid.sealed and "我的方案" not in bid.plan_file.name
    data = json.loads(crypto.decrypt(bid.sealed, purpose=f"bid.sealed:{bid.pk}"))
    assert data["price"] == "30000.00" and data["plan_name"] == "我的方案.pdf"
    with bid.plan_file.open("rb") as handle:
        assert p.PDF_BYTES not in handle.read()
    content = bid_sealed_content(bid=bid, user=org.staff_user)
    assert content.price == Decimal("30000.00")
    assert [u.pk for u in content.team] == [u.pk for u in org.worker_users]
    assert bid_plan_read(bid=bid, user=org.staff_user) == ("我的方案.pdf", p.PDF_BYTES)
    assert bid_count_public(lot=lot) is None


def test_docx_plans_are_accepted(world):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    upload = SimpleUploadedFile("方案.docx", p.docx_bytes(), content_type="application/zip")
    bid = submit(lot, org, plan=upload)
    assert bid_plan_read(bid=bid, user=org.staff_user)[1] == p.docx_bytes()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "请上传服务方案文件"),
        (SimpleUploadedFile("a.pdf", b"not a pdf at all", "application/pdf"), "只接受 PDF"),
        (SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"), "只接受 PDF"),
    ],
)
def test_plan_refusals(world, upload, message):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        bid_submit(
            lot=lot,
            by=org.staff_user,
            agency=org,
            price="100.00",
            plan=upload,
            team=org.worker_users,
            declarations=DECLARED,
        )
    assert message in " ".join(exc.value.message_dict["plan"])
    assert snapshot() == before


def test_oversized_plan_refused(world, settings):
    settings.PROCUREMENT_PLAN_MAX_BYTES = 20
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    with pytest.raises(ValidationError, match="服务方案文件过大"):
        submit(lot, org)
    assert Bid.objects.count() == 0


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("40000.01", "报价超过标段预算"),
        ("0", "报价必须大于0"),
        ("-5", "报价必须大于0"),
        ("12.345", "两位小数"),
        ("abc", "有效的报价金额"),
    ],
)
def test_price_refusals(world, price, message):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    with pytest.raises(ValidationError, match=message):
        submit(lot, org, price=price)
    assert Bid.objects.count() == 0


def test_declarations_all_required(world):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    with pytest.raises(ValidationError) as exc:
        submit(lot, org, declarations={"info_true": True, "no_collusion": False})
    assert set(exc.value.message_dict) == {"no_collusion", "no_debarment"}
    assert Bid.objects.count() == 0


def test_window_by_server_time_and_a_second_late_refused(world):
    tender = p.tender(world, state="enquiry")
    lot = tender.lots.get()
    org = p.agency(world.street)
    with pytest.raises(BidWindowClosed, match="尚未开始接受投标"):
        submit(lot, org)
    tender = p.tender(world)
    lot = tender.lots.get()
    closes = tender.bid_closes_at
    with time_machine.travel(closes - timedelta(seconds=1), tick=False):
        submit(lot, org)
    other = p.agency(world.street)
    with (
        time_machine.travel(closes, tick=False),
        pytest.raises(BidWindowClosed, match="投标已截止"),
    ):
        submit(lot, other)
    with (
        time_machine.travel(closes + timedelta(seconds=1), tick=False),
        pytest.raises(BidWindowClosed),
    ):
        submit(lot, other)
    assert Bid.objects.count() == 1


def test_bidder_qualification(world):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    unverified = p.agency(world.street)
    Organisation.objects.filter(pk=unverified.pk).update(verified=False)
    unverified.refresh_from_db()
    with pytest.raises(NotPermitted, match="尚未通过民政局认证"):
        submit(lot, unverified)
    with pytest.raises(NotPermitted, match="不是该机构的工作人员"):
        submit(lot, org, by=world.users[Role.AGENCY_STAFF])
    stranger = world.users[Role.SOCIAL_WORKER]  # a social worker of the station
    with pytest.raises(ValidationError, match="不是本机构的社工"):
        submit(lot, org, team=[org.worker_users[0], stranger])
    Lot.objects.filter(pk=lot.pk).update(min_team_size=3)
    lot.refresh_from_db()
    with pytest.raises(ValidationError, match="至少需要 3 名社工"):
        submit(lot, org)
    assert Bid.objects.count() == 0
    assert agency_may_bid(lot=lot, agency=org) == []
    assert agency_may_bid(lot=lot, agency=org, team=org.worker_users)


def test_a_failed_review_in_the_last_two_years_disqualifies(world):
    tender = p.tender(world, lots=2)
    org = p.agency(world.street)
    old_lot = p.tender(world, state="closed").lots.get()
    contract = p.contract(world, old_lot, org)
    review = PerformanceReview.objects.create(
        contract=contract,
        kind=PerformanceReview.Kind.FINAL,
        status=PerformanceReview.Status.COMPLETED,
        sample_rate=Decimal("0.30"),
        population=10,
        drawn_by=official(world),
        drawn_at=timezone.now() - timedelta(days=30),
        score=Decimal("55"),
        completed_at=timezone.now() - timedelta(days=20),
    )
    lot = tender.lots.get(number=1)
    assert any("近两年绩效评估不合格" in r for r in agency_may_bid(lot=lot, agency=org))
    with pytest.raises(NotPermitted, match="近两年绩效评估不合格"):
        submit(lot, org)
    PerformanceReview.objects.filter(pk=review.pk).update(
        completed_at=timezone.now() - timedelta(days=800)
    )
    assert agency_may_bid(lot=lot, agency=org) == []


def test_one_live_bid_per_agency_and_lot_and_withdraw_allows_a_new_one(world):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    first = submit(lot, org)
    with pytest.raises(ValidationError, match="本机构已对该标段投标"):
        submit(lot, org)
    bid_withdraw(bid=first, by=org.staff_user)
    first.refresh_from_db()
    assert first.status == Bid.Status.WITHDRAWN
    with pytest.raises(InvalidState):
        bid_withdraw(bid=first, by=org.staff_user)
    second = submit(lot, org, price="29000.00")
    assert second.pk != first.pk


def test_revise_replaces_the_sealed_content_and_keeps_the_plan(world):
    lot = p.tender(world).lots.get()
    org = p.agency(world.street)
    bid = submit(lot, org)
    old_file = bid.plan_file.name
    bid_revise(
        bid=bid,
        by=org.staff_user,
        price="28000.00",
        team=org.worker_users[:1],
        declarations=DECLARED,
    )
    bid.refresh_from_db()
    content = bid_sealed_content(bid=bid, user=org.staff_user)
    assert (content.price, content.plan_name, bid.revision) == (Decimal("28000.00"), "方案.pdf", 1)
    assert bid.plan_file.name == old_file and len(content.team) == 1
    upload = SimpleUploadedFile("新方案.docx", p.docx_bytes())
    bid_revise(
        bid=bid,
        by=org.staff_user,
        price="27000.00",
        plan=upload,
        team=org.worker_users,
        declarations=DECLARED,
    )
    bid.refresh_from_db()
    assert bid.revision == 2 and bid.plan_file.name != old_file
    assert bid_plan_read(bid=bid, user=org.staff_user) == ("新方案.docx", p.docx_bytes())
    assert bid.price is None


def test_revise_and_withdraw_refusals(world):
    tender = p.tender(world)
    lot = tender.lots.get()
    org = p.agency(world.street)
    other = p.agency(world.street)
    bid = submit(lot, org)
    before = snapshot()
    with pytest.raises(NotPermitted):
        bid_revise(
            bid=bid, by=other.staff_user, price="1.00", team=org.worker_users, declarations=DECLARED
        )
    with pytest.raises(NotPermitted):
        bid_withdraw(bid=bid, by=official(world))
    with pytest.raises(ValidationError, match="报价超过标段预算"):
        bid_revise(
            bid=bid, by=org.staff_user, price="99999", team=org.worker_users, declarations=DECLARED
        )
    close(tender)
    with pytest.raises(BidWindowClosed):
        bid_withdraw(bid=bid, by=org.staff_user)
    with pytest.raises(BidWindowClosed):
        bid_revise(
            bid=bid, by=org.staff_user, price="1.00", team=org.worker_users, declarations=DECLARED
        )
    after = snapshot()
    assert after[0] == before[0]


# --- Opening ----------------------------------------------------------------------------


def test_opening_writes_the_plain_fields_and_fails_empty_lots(world):
    tender = p.tender(world, lots=2)
    lot1, lot2 = tender.lots.order_by("number")
    a, b = p.agency(world.street), p.agency(world.street)
    bid_a = submit(lot1, a, price="31000.00")
    bid_b = submit(lot1, b, price="30500.00")
    bid_withdraw(bid=bid_b, by=b.staff_user)
    with pytest.raises(InvalidState, match="投标尚未截止，不能开标"):
        tender_open(tender=tender, by=official(world))
    close(tender)
    with pytest.raises(NotPermitted):
        tender_open(tender=tender, by=a.staff_user)
    opened = tender_open(tender=tender, by=official(world))
    assert opened.status == Tender.Status.OPENED and opened.opened_at is not None
    bid_a.refresh_from_db()
    bid_b.refresh_from_db()
    assert bid_a.price == Decimal("31000.00") and bid_a.plan_name == "方案.pdf"
    assert bid_a.declarations == DECLARED and set(bid_a.team.all()) == set(a.worker_users)
    assert bid_b.price is None and bid_b.opened_at is None  # withdrawn: sealed for good
    lot1.refresh_from_db()
    lot2.refresh_from_db()
    assert (lot1.status, lot2.status) == (Lot.Status.OPEN, Lot.Status.FAILED)
    assert bid_count_public(lot=lot1) == 1
    again = tender_open(tender=tender, by=official(world))
    assert again.opened_at == opened.opened_at
    bid_a.refresh_from_db()
    assert bid_a.opened_at == opened.opened_at


def test_opening_refuses_drafts_and_cancelled(world):
    draft = p.tender(world, state="draft")
    with pytest.raises(InvalidState):
        tender_open(tender=draft)
    cancelled = p.tender(world, state="closed")
    tender_cancel(tender=cancelled, by=official(world), reason="撤销")
    with pytest.raises(InvalidState):
        tender_open(tender=cancelled)


def test_open_due_opens_closed_tenders_once(world):
    due = p.tender(world, state="closed")
    p.tender(world)  # still bidding
    f.user("someone")
    assert tender_open_due() == 1
    due.refresh_from_db()
    assert due.status == Tender.Status.OPENED
    assert tender_open_due() == 0
