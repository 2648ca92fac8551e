"""Evaluation, award and complaint pages: status codes, refusals for other roles and other
organisations, sealed content before opening, bad input (400, nothing changed) and constant
query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import (
    Award,
    Bid,
    Complaint,
    EvaluatorAssignment,
    Lot,
    Role,
    Score,
    Tender,
)
from marketplace.services.evaluation import (
    award_decide,
    complaint_lodge,
    evaluator_assign,
    evaluator_declare,
    score_sheet_save,
)
from tests import procurement as p

D = Decimal


def opened_tender(world, *, lots: int = 1) -> Tender:
    tender = p.tender(world, state="closed", lots=lots)
    tender.status = Tender.Status.OPENED
    tender.opened_at = timezone.now()
    tender.save(update_fields=["status", "opened_at"])
    return tender


def judge(tender, official, *, declare: bool = True, conflict: bool = False):
    expert = p.evaluator()
    a = evaluator_assign(tender=tender, by=official, evaluator=expert)
    if declare:
        a = evaluator_declare(
            assignment=a, by=expert, conflict=conflict, note="亲属" if conflict else ""
        )
    return a


def sheet(tender, value="80"):
    return {c.pk: D(value) for c in tender.criteria.exclude(kind="price")}


def score_post(tender, value="80"):
    data = {}
    for c in tender.criteria.exclude(kind="price"):
        data[f"score_{c.pk}"] = value
        data[f"comment_{c.pk}"] = "良好"
    return data


@pytest.fixture
def evaluated(world):
    """An opened tender with two qualified bids fully scored by two evaluators."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    lot = tender.lots.get()
    a1 = p.agency(world.street, "甲社工服务中心")
    a2 = p.agency(world.street, "乙社工服务中心")
    b1 = p.opened_bid(lot, a1, price=D("36000.00"))
    b2 = p.opened_bid(lot, a2, price=D("30000.00"))
    judges = [judge(tender, official) for _ in range(2)]
    for j in judges:
        for b in (b1, b2):
            score_sheet_save(assignment=j, by=j.evaluator, bid=b, scores=sheet(tender))
    return tender, lot, (a1, a2), (b1, b2), judges


def evaluation_url(tender):
    return reverse("procurement:tender-evaluation", args=[tender.pk])


# --- Civil affairs' evaluation page -----------------------------------------------------


def test_evaluation_page_for_civil_affairs(world, login, evaluated):
    tender, lot, (a1, a2), bids, judges = evaluated
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.get(evaluation_url(tender))
    assert response.status_code == 200
    body = response.content.decode()
    assert "甲社工服务中心" in body and "36000.00" in body
    assert 'data-testid="ranking"' in body and 'data-testid="qualify"' in body
    assert 'data-testid="award"' in body and "ranking-chart-data" in body
    assert reverse("procurement:lot-ranking-export", args=[lot.pk]) in body


def test_evaluation_page_read_only_for_auditor(world, login, evaluated):
    tender = evaluated[0]
    response = login(world.users[Role.AUDITOR]).get(evaluation_url(tender))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="ranking"' in body
    for form in ("qualify", "award", "fail", "assign", "answer"):
        assert f'data-testid="{form}"' not in body


@pytest.mark.parametrize(
    "role", [Role.AGENCY_STAFF, Role.STREET_OFFICIAL, Role.EVALUATOR, Role.APPLICANT]
)
def test_evaluation_page_refused_for_other_roles(world, login, evaluated, role):
    user = world.users.get(role) or p.evaluator()
    assert login(user).get(evaluation_url(evaluated[0])).status_code == 403


def test_evaluation_page_needs_login(client, evaluated):
    response = client.get(evaluation_url(evaluated[0]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_evaluation_page_before_opening_keeps_bids_sealed(world, login):
    tender = p.tender(world, state="bidding")
    p.opened_bid(tender.lots.get(), p.agency(world.street, "秘密社工"), price=D("12345.67"))
    official = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = official.get(evaluation_url(tender))
    assert response.status_code == 200
    body = response.content.decode()
    assert "12345.67" not in body and "秘密社工" not in body
    assert 'data-testid="assign"' in body  # the panel may be set up before opening
    assert "RED" not in body and 'data-testid="red-flags"' not in body
    # Auditors see nothing of a tender before opening.
    client = login(world.users[Role.AUDITOR])
    assert client.get(evaluation_url(tender)).status_code == 404


def test_evaluation_page_draft_is_404(world, login):
    tender = p.tender(world, state="draft")
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert client.get(evaluation_url(tender)).status_code == 404


@pytest.mark.parametrize("n", [2, 6])
def test_evaluation_page_query_count(world, login, django_assert_num_queries, n):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world, lots=2)
    judges = [judge(tender, official) for _ in range(2)]
    agencies = [p.agency(world.street) for _ in range(n)]
    for lot in tender.lots.all():
        for i, org in enumerate(agencies):
            bid = p.opened_bid(lot, org, price=D(30000 + i))
            for j in judges:
                score_sheet_save(assignment=j, by=j.evaluator, bid=bid, scores=sheet(tender))
    first = tender.lots.first()
    done = award_decide(lot=first, by=official)
    loser = next(a for a in agencies if a.pk != done.bid.agency_id)
    complaint_lodge(award=done, by=loser.staff_user, organisation=loser, grounds="x")
    client = login(official)
    # The same number of queries for 2 and for 6 bids per lot (the link to the public
    # notice finds the purchasing page once).
    with django_assert_num_queries(21):
        response = client.get(evaluation_url(tender))
    assert response.status_code == 200


# --- Qualification, evaluators, award, failure -------------------------------------------


def test_qualify_post(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    url = reverse("procurement:bid-qualify", args=[bid.pk])
    client = login(official)
    response = client.post(url, {"result": "failed", "reason": ""})
    assert response.status_code == 400
    assert "请填写不通过的理由" in response.content.decode()
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.PENDING
    response = client.post(url, {"result": "failed", "reason": "缺少资质证书"})
    assert response.status_code == 302
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.FAILED
    assert client.get(url).status_code == 405


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.AGENCY_STAFF])
def test_qualify_refused_for_other_roles(world, login, role):
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    url = reverse("procurement:bid-qualify", args=[bid.pk])
    assert login(world.users[role]).post(url, {"result": "passed"}).status_code == 403
    bid.refresh_from_db()
    assert bid.qualification == Bid.Qualification.PENDING


def test_qualify_before_opening_is_404(world, login):
    tender = p.tender(world, state="bidding")
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=None)
    url = reverse("procurement:bid-qualify", args=[bid.pk])
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert client.post(url, {"result": "passed"}).status_code == 404


def test_assign_post(world, login):
    tender = opened_tender(world)
    url = reverse("procurement:evaluator-assign", args=[tender.pk])
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    not_expert = world.users[Role.AUDITOR]
    response = client.post(url, {"evaluator": not_expert.pk})
    assert response.status_code == 400
    assert "该用户不是评审专家" in response.content.decode()
    expert = p.evaluator()
    assert client.post(url, {"evaluator": expert.pk}).status_code == 302
    assert EvaluatorAssignment.objects.filter(tender=tender, evaluator=expert).exists()
    auditor = login(world.users[Role.AUDITOR])
    assert auditor.post(url, {"evaluator": p.evaluator().pk}).status_code == 403
    assert tender.evaluators.count() == 1


def test_award_post_incomplete_then_complete(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    lot = tender.lots.get()
    bid = p.opened_bid(lot, p.agency(world.street, "唯一机构"), price=D("30000"))
    url = reverse("procurement:lot-award", args=[lot.pk])
    client = login(official)
    response = client.post(url)
    assert response.status_code == 400
    assert "评审尚未完成" in response.content.decode()
    assert not Award.objects.exists()
    for _ in range(2):
        j = judge(tender, official)
        score_sheet_save(assignment=j, by=j.evaluator, bid=bid, scores=sheet(tender))
    assert login(world.users[Role.AUDITOR]).post(url).status_code == 403
    client = login(official)
    response = client.post(url)
    assert response.status_code == 302
    assert Award.objects.get().bid == bid
    page = client.get(evaluation_url(tender)).content.decode()
    assert 'data-testid="countdown"' in page


def test_fail_post(world, login):
    tender = opened_tender(world)
    lot = tender.lots.get()
    url = reverse("procurement:lot-fail", args=[lot.pk])
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "请填写流标原因" in response.content.decode()
    lot.refresh_from_db()
    assert lot.status == Lot.Status.OPEN
    assert client.post(url, {"reason": "无合格投标"}).status_code == 302
    lot.refresh_from_db()
    assert lot.status == Lot.Status.FAILED
    assert login(world.users[Role.AGENCY_STAFF]).post(url, {"reason": "x"}).status_code == 403


def test_ranking_export(world, login, evaluated):
    tender, lot, *_ = evaluated
    url = reverse("procurement:lot-ranking-export", args=[lot.pk])
    for role in (Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR):
        response = login(world.users[role]).get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert login(world.users[Role.AGENCY_STAFF]).get(url).status_code == 403


def test_ranking_export_before_opening_is_404(world, login):
    tender = p.tender(world, state="closed")
    url = reverse("procurement:lot-ranking-export", args=[tender.lots.get().pk])
    assert login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(url).status_code == 404


def test_complaint_answer_post(world, login, evaluated):
    tender, lot, (a1, a2), bids, judges = evaluated
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    award = award_decide(lot=lot, by=official)
    c = complaint_lodge(award=award, by=a1.staff_user, organisation=a1, grounds="评分不公")
    url = reverse("procurement:complaint-answer", args=[c.pk])
    assert login(world.users[Role.AUDITOR]).post(url, {"decision": "upheld"}).status_code == 403
    client = login(official)
    response = client.post(url, {"decision": "upheld", "response": ""})
    assert response.status_code == 400
    assert "请填写答复意见" in response.content.decode()
    c.refresh_from_db()
    assert c.status == Complaint.Status.OPEN
    response = client.post(url, {"decision": "upheld", "response": "评分有误，重新评审"})
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.status == Award.Status.CANCELLED
    response = client.post(url, {"decision": "dismissed", "response": "再次"})
    assert response.status_code == 400
    assert "该质疑已答复" in response.content.decode()


# --- Evaluators -------------------------------------------------------------------------


def test_assignment_list_shows_own_opened_only(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    opened = opened_tender(world)
    closed = p.tender(world, state="closed")
    expert = p.evaluator()
    evaluator_assign(tender=opened, by=official, evaluator=expert)
    evaluator_assign(tender=closed, by=official, evaluator=expert)
    other = opened_tender(world)
    evaluator_assign(tender=other, by=official, evaluator=p.evaluator())
    response = login(expert).get(reverse("procurement:assignment-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert opened.reference in body
    assert closed.reference not in body and other.reference not in body


@pytest.mark.parametrize("role", [Role.CIVIL_AFFAIRS_OFFICIAL, Role.AGENCY_STAFF, Role.AUDITOR])
def test_assignment_pages_refused_for_other_roles(world, login, role):
    tender = opened_tender(world)
    a = judge(tender, world.users[Role.CIVIL_AFFAIRS_OFFICIAL], declare=False)
    client = login(world.users[role])
    assert client.get(reverse("procurement:assignment-list")).status_code == 403
    url = reverse("procurement:assignment-detail", args=[a.pk])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("n", [2, 6])
def test_assignment_list_query_count(world, login, django_assert_num_queries, n):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    expert = p.evaluator()
    for _ in range(n):
        evaluator_assign(tender=opened_tender(world), by=official, evaluator=expert)
    client = login(expert)
    client.get(reverse("procurement:assignment-list"))  # warm the session
    with django_assert_num_queries(5):
        response = client.get(reverse("procurement:assignment-list"))
    assert response.status_code == 200


def test_declaration_page_and_post(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    p.opened_bid(tender.lots.get(), p.agency(world.street, "甲机构"), price=D("31234.56"))
    a = judge(tender, official, declare=False)
    url = reverse("procurement:assignment-detail", args=[a.pk])
    client = login(a.evaluator)
    body = client.get(url).content.decode()
    assert "甲机构" in body and "31234.56" not in body  # names only before declaring
    response = client.post(url, {"conflict": "yes", "note": "", "confirm": "on"})
    assert response.status_code == 400
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.PENDING
    response = client.post(url, {"conflict": "no", "confirm": "on"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.NO_CONFLICT
    body = client.get(url).content.decode()
    assert "31234.56" in body
    response = client.post(url, {"conflict": "yes", "note": "改变主意", "confirm": "on"})
    assert response.status_code == 400
    a.refresh_from_db()
    assert a.declaration == EvaluatorAssignment.Declaration.NO_CONFLICT


def test_recused_evaluator_sees_no_bid_content(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("31234.56"))
    a = judge(tender, official, conflict=True)
    client = login(a.evaluator)
    body = client.get(reverse("procurement:assignment-detail", args=[a.pk])).content.decode()
    assert "31234.56" not in body and 'data-testid="recused"' in body
    url = reverse("procurement:score-sheet", args=[a.pk, bid.pk])
    assert client.get(url).status_code == 404


def test_assignment_refused_before_opening_and_for_other_evaluator(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    closed = p.tender(world, state="closed")
    early = evaluator_assign(tender=closed, by=official, evaluator=p.evaluator())
    client = login(early.evaluator)
    assert client.get(reverse("procurement:assignment-detail", args=[early.pk])).status_code == 404
    tender = opened_tender(world)
    mine = judge(tender, official)
    theirs = judge(tender, official)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"))
    client = login(mine.evaluator)
    assert client.get(reverse("procurement:assignment-detail", args=[theirs.pk])).status_code == 404
    url = reverse("procurement:score-sheet", args=[theirs.pk, bid.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, score_post(tender)).status_code == 404
    assert not Score.objects.exists()


def test_score_sheet_get_and_post(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street, "甲机构"), price=D("30000"))
    a = judge(tender, official)
    url = reverse("procurement:score-sheet", args=[a.pk, bid.pk])
    client = login(a.evaluator)
    response = client.get(url)
    assert response.status_code == 200 and "甲机构" in response.content.decode()
    # The agency's track record is beside the sheet, for the past-performance criterion.
    assert 'data-testid="track-record"' in response.content.decode()
    response = client.post(url, score_post(tender, "101"))
    assert response.status_code == 400
    assert "分值应在0到100之间" in response.content.decode()
    assert not Score.objects.exists()
    response = client.post(url, score_post(tender, "88.5"))
    assert response.status_code == 302
    assert Score.objects.filter(assignment=a, bid=bid).count() == 3
    assert set(Score.objects.values_list("score", flat=True)) == {D("88.50")}


def test_score_sheet_refused_for_unqualified_bid(world, login):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    tender = opened_tender(world)
    bid = p.opened_bid(tender.lots.get(), p.agency(world.street), price=D("1"), qualified=False)
    a = judge(tender, official)
    url = reverse("procurement:score-sheet", args=[a.pk, bid.pk])
    assert login(a.evaluator).get(url).status_code == 404


# --- Agencies' complaints ---------------------------------------------------------------


@pytest.fixture
def standstill(world, evaluated):
    tender, lot, agencies, bids, judges = evaluated
    award = award_decide(lot=lot, by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    return award, agencies


def test_complaint_create(world, login, standstill):
    award, (a1, a2) = standstill  # a2 won (cheaper, equal scores)
    url = reverse("procurement:complaint-create", args=[award.pk])
    client = login(a1.staff_user)
    assert client.get(url).status_code == 200
    response = client.post(url, {"grounds": "  "})
    assert response.status_code == 400
    assert "请填写质疑事项与理由" in response.content.decode()
    assert not Complaint.objects.exists()
    assert client.post(url, {"grounds": "评分存在错误"}).status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.organisation == a1
    listing = client.get(reverse("procurement:complaint-list-mine")).content.decode()
    assert "评分存在错误" in listing


def test_complaint_refusals(world, login, standstill):
    award, (a1, a2) = standstill
    url = reverse("procurement:complaint-create", args=[award.pk])
    assert login(a2.staff_user).post(url, {"grounds": "我是中标人"}).status_code == 403
    outsider = p.agency(world.street)
    assert login(outsider.staff_user).get(url).status_code == 404
    assert login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(url).status_code == 403
    Award.objects.filter(pk=award.pk).update(standstill_ends_at=timezone.now() - timedelta(1))
    response = login(a1.staff_user).post(url, {"grounds": "迟到"})
    assert response.status_code == 400
    assert "质疑期已过" in response.content.decode()
    assert not Complaint.objects.exists()


@pytest.mark.parametrize("role", [Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR])
def test_complaint_list_refused_for_other_roles(world, login, role):
    response = login(world.users[role]).get(reverse("procurement:complaint-list-mine"))
    assert response.status_code == 403


@pytest.mark.parametrize("n", [2, 6])
def test_complaint_list_query_count(world, login, django_assert_num_queries, n):
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    mine = p.agency(world.street)
    for _ in range(n):
        tender = opened_tender(world)
        lot = tender.lots.get()
        p.opened_bid(lot, mine, price=D("2"))
        winner = p.opened_bid(lot, p.agency(world.street), price=D("1"))
        done = p.award(lot, winner, official, final=False)
        complaint_lodge(award=done, by=mine.staff_user, organisation=mine, grounds="质疑")
    client = login(mine.staff_user)
    client.get(reverse("procurement:complaint-list-mine"))
    with django_assert_num_queries(6):
        response = client.get(reverse("procurement:complaint-list-mine"))
    assert response.status_code == 200
    assert response.content.decode().count('data-label="标段"') == 2 * n
