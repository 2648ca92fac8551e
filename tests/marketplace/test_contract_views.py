"""Contract pages: who may open each (another agency gets 404, other roles 403), the list's
filters, paging, export and query count, signing with the milestone formset, delivery entry
with evidence, team logs, milestone acceptance, reviews with their sample, and evidence
downloads. Bad input gets a Chinese error and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import (
    Contract,
    DeliveryRecord,
    Milestone,
    PerformanceReview,
    ReviewSample,
    Role,
)
from marketplace.services.contracts import (
    delivery_record_add,
    milestone_submit,
    review_draw,
)
from tests import factories as f
from tests import procurement as P
from volunteers.models import Opportunity, ServiceRecord
from volunteers.services.teams import team_create

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"procurement:{name}", args=args)


def pdf(name="签到表.pdf", content=P.PDF_BYTES):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def s(world):
    """A signed contract (two milestones of 250 visits) and a second agency."""
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    agency = P.agency(world.street)
    contract = P.contract(world, lot, agency)
    m1, m2 = contract.milestones.order_by("position")
    return SimpleNamespace(
        contract=contract,
        agency=agency,
        other=P.agency(world.street2),
        m1=m1,
        m2=m2,
        official=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
        auditor=world.users[Role.AUDITOR],
    )


def as_user(client, user):
    client.force_login(user)
    return client


def add_record(s, units="10", milestone=None):
    return delivery_record_add(
        milestone=milestone or s.m1,
        by=s.agency.staff_user,
        units=Decimal(units),
        delivered_on=timezone.localdate() - timedelta(days=1),
        description="上门探访",
        evidence=pdf(),
    )


# --- List ----------------------------------------------------------------------------------


def test_list_scope(client, world, s):
    P.contract(world, P.tender(world, state="closed").lots.get(), s.other)
    for user, count in [(s.official, 2), (s.auditor, 2), (s.agency.staff_user, 1)]:
        response = as_user(client, user).get(url("contract-list"))
        assert response.status_code == 200
        assert len(response.context["page"].object_list) == count
    mine = as_user(client, s.agency.staff_user).get(url("contract-list")).content.decode()
    assert s.contract.number in mine


@pytest.mark.parametrize(
    "role", [Role.STREET_OFFICIAL, Role.VOLUNTEER, Role.SOCIAL_WORKER, Role.CHARITY_STAFF]
)
def test_list_refuses_other_roles(client, world, s, role):
    assert as_user(client, world.users[role]).get(url("contract-list")).status_code == 403


def test_list_needs_login(client, s):
    assert client.get(url("contract-list")).status_code == 302


def test_list_filters_and_bad_filter(client, world, s):
    P.contract(world, P.tender(world, state="closed", lots=2).lots.get(number=2), s.other)
    c = as_user(client, s.official)
    assert c.get(url("contract-list"), {"agency": s.agency.pk}).context["page"].paginator.count == 1
    by_street = c.get(url("contract-list"), {"street": world.street2.pk})
    assert [x.agency_id for x in by_street.context["page"].object_list] == [s.other.pk]
    assert c.get(url("contract-list"), {"status": "completed"}).context["page"].paginator.count == 0
    assert c.get(url("contract-list"), {"status": "bogus"}).status_code == 400


def test_list_pages(client, world, s):
    for _ in range(21):
        P.contract(world, P.tender(world, state="closed").lots.get(), s.agency)
    c = as_user(client, s.official)
    first = c.get(url("contract-list"))
    assert len(first.context["page"].object_list) == 20
    assert len(c.get(url("contract-list"), {"page": 2}).context["page"].object_list) == 2


def test_list_export(client, world, s):
    add_record(s, units="100")
    response = as_user(client, s.official).get(url("contract-export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[1][0] == s.contract.number
    assert rows[1][8] == 500 and Decimal(str(rows[1][9])) == Decimal("100")
    other = as_user(client, s.other.staff_user).get(url("contract-export"))
    assert len(list(load_workbook(BytesIO(other.content)).active.values)) == 1


def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_is_constant(client, world, s):
    c = as_user(client, s.official)
    P.contract(world, P.tender(world, state="closed").lots.get(), s.other)
    two = _count(c, url("contract-list"))
    for _ in range(4):
        P.contract(world, P.tender(world, state="closed").lots.get(), s.other)
    assert _count(c, url("contract-list")) == two


def test_list_shows_awards_waiting_for_contract(client, world, s):
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    award = P.award(lot, P.opened_bid(lot, s.other, price=Decimal("36000")), s.official)
    page = as_user(client, s.official).get(url("contract-list")).content.decode()
    assert url("contract-sign", award.pk) in page
    agency_page = as_user(client, s.other.staff_user).get(url("contract-list")).content.decode()
    assert url("contract-sign", award.pk) not in agency_page


# --- Signing -------------------------------------------------------------------------------


@pytest.fixture
def awarded(world):
    tender = P.tender(world, state="closed", quantity=501)
    lot = tender.lots.get()
    agency = P.agency(world.street)
    bid = P.opened_bid(lot, agency, price=Decimal("36000.01"))
    return SimpleNamespace(
        lot=lot, agency=agency, award=P.award(lot, bid, world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    )


def sign_post(milestones, **extra):
    today = timezone.localdate()
    data = {
        "number": "YHMZ-HT-001",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=364)).isoformat(),
        "m-TOTAL_FORMS": str(len(milestones)),
        "m-INITIAL_FORMS": "0",
        "m-MIN_NUM_FORMS": "1",
        "m-MAX_NUM_FORMS": "12",
    }
    for i, (title, units, days, pay) in enumerate(milestones):
        data.update(
            {
                f"m-{i}-title": title,
                f"m-{i}-units_target": str(units),
                f"m-{i}-due_on": (today + timedelta(days=days)).isoformat(),
                f"m-{i}-payment": str(pay),
            }
        )
    data.update(extra)
    return data


def test_sign_form_prefilled_with_two_halves(client, world, awarded):
    response = as_user(client, world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(
        url("contract-sign", awarded.award.pk)
    )
    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    assert f'name="starts_on" value="{today}"' in response.content.decode()
    initial = response.context["formset"].initial
    assert [m["units_target"] for m in initial] == [250, 251]
    assert sum(m["payment"] for m in initial) == Decimal("36000.01")


def test_sign_posts_contract(client, world, awarded):
    c = as_user(client, world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    data = sign_post([("第一阶段", 300, 100, "20000"), ("第二阶段", 201, 300, "16000")])
    data.update({"m-TOTAL_FORMS": "3", "m-2-title": "", "m-2-units_target": ""})
    response = c.post(url("contract-sign", awarded.award.pk), data)
    contract = Contract.objects.get()
    assert response.status_code == 302 and response["Location"] == contract.get_absolute_url()
    assert list(contract.milestones.values_list("units_target", flat=True)) == [300, 201]


def test_sign_bad_sum_is_refused(client, world, awarded):
    c = as_user(client, world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = c.post(
        url("contract-sign", awarded.award.pk),
        sign_post([("第一阶段", 300, 100, "20000"), ("第二阶段", 200, 300, "16000")]),
    )
    assert response.status_code == 400
    assert "各节点服务量之和应等于采购数量" in response.content.decode()
    assert not Contract.objects.exists()
    empty_form = c.post(url("contract-sign", awarded.award.pk), sign_post([], number=""))
    assert empty_form.status_code == 400 and not Contract.objects.exists()


def test_sign_refuses_standstill_award_and_second_contract(client, world, s):
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    bid = P.opened_bid(lot, s.other, price=Decimal("36000"))
    award = P.award(lot, bid, s.official, final=False)
    c = as_user(client, s.official)
    halves = [("一", 250, 100, "100"), ("二", 250, 300, "100")]
    response = c.post(url("contract-sign", award.pk), sign_post(halves))
    assert response.status_code == 400 and "中标尚未生效" in response.content.decode()
    again = c.post(url("contract-sign", s.contract.award_id), sign_post(halves, number="X-2"))
    assert again.status_code == 400 and "已签订合同" in again.content.decode()
    assert Contract.objects.count() == 1


def test_sign_refused_for_other_roles(client, world, awarded):
    for user in (awarded.agency.staff_user, world.users[Role.AUDITOR]):
        assert as_user(client, user).get(url("contract-sign", awarded.award.pk)).status_code == 403
    assert (
        as_user(client, world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
        .get(url("contract-sign", 999999))
        .status_code
        == 404
    )


# --- Detail --------------------------------------------------------------------------------


def test_detail_for_each_reader(client, world, s):
    add_record(s, units="100")
    page = as_user(client, s.official).get(url("contract-detail", s.contract.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="contract-chart-data"' in body and "draw-form" in body
    assert "delivery-form" not in body
    assert page.context["chart_data"]["delivered"] == [100.0, 0.0]
    agency = as_user(client, s.agency.staff_user).get(url("contract-detail", s.contract.pk))
    assert agency.status_code == 200
    assert "delivery-form" in agency.content.decode()
    assert "draw-form" not in agency.content.decode()
    audit = as_user(client, s.auditor).get(url("contract-detail", s.contract.pk))
    assert audit.status_code == 200
    body = audit.content.decode()
    for action in ("delivery-form", "draw-form", "team-log-form", "decide-", "submit-"):
        assert f'data-testid="{action}' not in body


def test_detail_refusals(client, world, s):
    assert (
        as_user(client, s.other.staff_user).get(url("contract-detail", s.contract.pk)).status_code
        == 404
    )
    street = world.users[Role.STREET_OFFICIAL]
    assert as_user(client, street).get(url("contract-detail", s.contract.pk)).status_code == 403


def test_detail_pages_deliveries(client, s):
    for _ in range(22):
        add_record(s, units="1")
    c = as_user(client, s.official)
    assert len(c.get(url("contract-detail", s.contract.pk)).context["deliveries"]) == 20
    second = c.get(url("contract-detail", s.contract.pk), {"page": 2})
    assert len(second.context["deliveries"].object_list) == 2


# --- Deliveries ----------------------------------------------------------------------------


def delivery_post(s, **extra):
    data = {
        "milestone": s.m1.pk,
        "units": "12",
        "delivered_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "description": "探访独居老人",
        "evidence": pdf(),
    }
    data.update(extra)
    return data


def test_delivery_add(client, s):
    c = as_user(client, s.agency.staff_user)
    response = c.post(url("delivery-add", s.contract.pk), delivery_post(s))
    assert response.status_code == 302
    record = DeliveryRecord.objects.get()
    assert record.units == Decimal("12") and record.entered_by == s.agency.staff_user


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        ({"evidence": pdf("x.pdf", b"GIF89a not allowed")}, "佐证材料只接受 PDF、JPG 或 PNG 格式"),
        ({"delivered_on": "2001-01-01"}, "服务日期应在合同期内"),
        ({"units": "0"}, ""),
        ({"description": ""}, ""),
    ],
)
def test_delivery_add_bad_input(client, s, extra, text):
    c = as_user(client, s.agency.staff_user)
    response = c.post(url("delivery-add", s.contract.pk), delivery_post(s, **extra))
    assert response.status_code == 400
    assert text in response.content.decode()
    assert not DeliveryRecord.objects.exists()


def test_delivery_add_refusals(client, s):
    for user, code in [(s.official, 403), (s.auditor, 403), (s.other.staff_user, 404)]:
        response = as_user(client, user).post(url("delivery-add", s.contract.pk), delivery_post(s))
        assert response.status_code == code
    assert not DeliveryRecord.objects.exists()


def test_team_log(client, world, s):
    leader = f.social_worker(s.agency.worker_users[0], s.agency, real_name="王社工")
    team = team_create(by=s.agency.staff_user, name="探访队", leader=leader, contract=s.contract)
    start = timezone.now() - timedelta(days=2)
    opportunity = Opportunity.objects.create(
        organisation=s.agency,
        team=team,
        title="探访",
        description="探访",
        community=world.community,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        slots=3,
        created_by=s.agency.staff_user,
    )
    volunteer = f.volunteer(f.user("tlv1", Role.VOLUNTEER, world.federation), world.community)
    ServiceRecord.objects.create(
        volunteer=volunteer,
        opportunity=opportunity,
        status=ServiceRecord.Status.CONFIRMED,
        checked_in_at=start,
        hours=Decimal("2"),
    )
    c = as_user(client, s.agency.staff_user)
    assert "team-log-form" in c.get(url("contract-detail", s.contract.pk)).content.decode()
    data = {"milestone": s.m1.pk, "team": team.pk}
    assert c.post(url("delivery-team-log", s.contract.pk), data).status_code == 302
    assert DeliveryRecord.objects.filter(source="team").count() == 1
    assert c.post(url("delivery-team-log", s.contract.pk), data).status_code == 302
    assert DeliveryRecord.objects.count() == 1
    assert (
        c.post(url("delivery-team-log", s.contract.pk), {"milestone": s.m1.pk}).status_code == 400
    )
    official = as_user(client, s.official)
    assert official.post(url("delivery-team-log", s.contract.pk), data).status_code == 403


# --- Milestones ----------------------------------------------------------------------------


def test_submit_and_decide(client, s):
    c = as_user(client, s.agency.staff_user)
    add_record(s, units="200")
    response = c.post(url("milestone-submit", s.m1.pk))
    assert response.status_code == 400 and "已完成服务量未达到目标" in response.content.decode()
    add_record(s, units="50")
    assert "submit-1" in c.get(url("contract-detail", s.contract.pk)).content.decode()
    assert c.post(url("milestone-submit", s.m1.pk)).status_code == 302
    assert (
        as_user(client, s.other.staff_user).post(url("milestone-submit", s.m2.pk)).status_code
        == 404
    )
    # Deciding.
    assert (
        as_user(client, s.auditor)
        .post(url("milestone-decide", s.m1.pk), {"decision": "accept"})
        .status_code
        == 403
    )
    assert (
        as_user(client, s.agency.staff_user)
        .post(url("milestone-decide", s.m1.pk), {"decision": "accept"})
        .status_code
        == 403
    )
    c = as_user(client, s.official)
    assert "decide-1" in c.get(url("contract-detail", s.contract.pk)).content.decode()
    refused = c.post(url("milestone-decide", s.m1.pk), {"decision": "reject", "note": ""})
    assert refused.status_code == 400 and "验收不通过时须说明理由" in refused.content.decode()
    s.m1.refresh_from_db()
    assert s.m1.status == Milestone.Status.SUBMITTED
    assert c.post(url("milestone-decide", s.m1.pk), {"decision": "accept"}).status_code == 302
    s.m1.refresh_from_db()
    assert s.m1.status == Milestone.Status.ACCEPTED
    again = c.post(url("milestone-decide", s.m1.pk), {"decision": "accept"})
    assert again.status_code == 400 and "只有待验收的节点可以验收" in again.content.decode()


# --- Reviews -------------------------------------------------------------------------------


def test_review_draw_and_detail(client, s):
    c = as_user(client, s.official)
    none = c.post(url("review-draw", s.contract.pk), {"kind": "midterm", "rate": "0.30"})
    assert none.status_code == 400 and "尚无服务记录，无法抽样" in none.content.decode()
    for _ in range(5):
        add_record(s, units="1")
    low = c.post(url("review-draw", s.contract.pk), {"kind": "midterm", "rate": "0.2"})
    assert low.status_code == 400 and not PerformanceReview.objects.exists()
    assert (
        as_user(client, s.auditor)
        .post(url("review-draw", s.contract.pk), {"kind": "midterm", "rate": "0.3"})
        .status_code
        == 403
    )
    c = as_user(client, s.official)
    response = c.post(url("review-draw", s.contract.pk), {"kind": "midterm", "rate": "0.30"})
    review = PerformanceReview.objects.get()
    assert response.status_code == 302 and response["Location"] == url("review-detail", review.pk)
    page = c.get(url("review-detail", review.pk))
    assert page.status_code == 200 and len(page.context["rows"]) == 2
    assert "complete-form" in page.content.decode()
    audit = as_user(client, s.auditor).get(url("review-detail", review.pk))
    assert audit.status_code == 200 and "complete-form" not in audit.content.decode()
    # The agency does not learn the sample before the visits; another agency never.
    assert (
        as_user(client, s.agency.staff_user).get(url("review-detail", review.pk)).status_code == 404
    )
    assert (
        as_user(client, s.other.staff_user).get(url("review-detail", review.pk)).status_code == 404
    )


def test_verify_and_complete(client, s):
    for _ in range(3):
        add_record(s, units="1")
    review = review_draw(contract=s.contract, by=s.official, kind="final", rate=Decimal("0.5"))
    first, second = review.samples.order_by("pk")
    c = as_user(client, s.official)
    early = c.post(url("review-complete", review.pk), {"score": "90", "findings": "良好"})
    assert early.status_code == 400 and "还有2条抽查记录未核实" in early.content.decode()
    bad = c.post(url("sample-verify", first.pk), {"result": "not_found", "note": ""})
    assert bad.status_code == 400 and "须填写说明" in bad.content.decode()
    assert c.post(url("sample-verify", first.pk), {"result": "confirmed"}).status_code == 302
    assert (
        as_user(client, s.auditor)
        .post(url("sample-verify", second.pk), {"result": "confirmed"})
        .status_code
        == 403
    )
    assert (
        as_user(client, s.other.staff_user)
        .post(url("sample-verify", second.pk), {"result": "confirmed"})
        .status_code
        == 404
    )
    c = as_user(client, s.official)
    c.post(url("sample-verify", second.pk), {"result": "discrepancy", "note": "少一次"})
    assert ReviewSample.objects.filter(result="pending").count() == 0
    assert (
        c.post(url("review-complete", review.pk), {"score": "101", "findings": "x"}).status_code
        == 400
    )
    done = c.post(url("review-complete", review.pk), {"score": "88", "findings": "基本属实"})
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.status == PerformanceReview.Status.COMPLETED and review.score == Decimal("88")
    # Once completed the agency reads it, and its track record shows the score.
    agency = as_user(client, s.agency.staff_user)
    assert agency.get(url("review-detail", review.pk)).status_code == 200
    detail = agency.get(url("contract-detail", s.contract.pk))
    assert detail.context["track"].latest_score == Decimal("88.00")
    assert "track-record" in detail.content.decode()


# --- Evidence ------------------------------------------------------------------------------


def test_evidence_download(client, s):
    record = add_record(s)
    for user in (s.agency.staff_user, s.official, s.auditor):
        response = as_user(client, user).get(url("delivery-evidence", record.pk))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == P.PDF_BYTES
        assert response["Content-Disposition"].startswith("attachment")
    assert (
        as_user(client, s.other.staff_user).get(url("delivery-evidence", record.pk)).status_code
        == 404
    )
    team_record = DeliveryRecord.objects.create(
        milestone=s.m1,
        units=Decimal("1"),
        delivered_on=timezone.localdate(),
        source="team",
        source_ref="servicerecord:999999",
        description="团队",
        entered_by=s.agency.staff_user,
    )
    response = as_user(client, s.official).get(url("delivery-evidence", team_record.pk))
    assert response.status_code == 404


def test_submitted_milestone_refuses_more_delivery(client, s):
    add_record(s, units="250")
    milestone_submit(milestone=s.m1, by=s.agency.staff_user)
    c = as_user(client, s.agency.staff_user)
    response = c.post(url("delivery-add", s.contract.pk), delivery_post(s))
    assert response.status_code == 400
    assert DeliveryRecord.objects.count() == 1
