"""Disbursement pages: the request form (need chooser with public facts only, one or two
approvals by amount), bad input refused with nothing written, approval and rejection (the
requester never decides, nobody decides twice, the auditor only reads), the list with its
filters, constant query count and export, emergency payments from the reserve, and the
workbench card."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from charity.models import Account, Disbursement, DisbursementApproval
from charity.services.disbursements import reserve_overdue_flag
from charity.services.donations import donation_refund
from charity.services.ledger import fund_transfer
from marketplace.models import Need, Role
from tests import factories as f
from tests.charity import test_access_sweep as sweep

pytestmark = pytest.mark.django_db
ledger = sweep.ledger


def _cash(fund) -> Decimal:
    return Account.objects.get(fund=fund, kind=Account.Kind.CASH).balance


def _request(client, fund, chosen, **overrides):
    data = {
        "need": chosen.pk,
        "kind": "funds",
        "amount": "800.00",
        "purpose": "临时救助金，用于住院后基本生活",
        "idempotency_key": f.key(),
    }
    data.update(overrides)
    return client.post(reverse("charity:disbursement-create", args=[fund.pk]), data)


def _approve(client, disbursement, **overrides):
    data = {"note": "同意", "idempotency_key": f.key(), **overrides}
    return client.post(reverse("charity:disbursement-approve", args=[disbursement.pk]), data)


def _reject(client, disbursement, **overrides):
    data = {"reason": "材料不全", "idempotency_key": f.key(), **overrides}
    return client.post(reverse("charity:disbursement-reject", args=[disbursement.pk]), data)


# --- Request ------------------------------------------------------------------------------


def test_form_shows_needs_by_their_public_facts_and_the_approval_rule(client, ledger):
    w = ledger
    client.force_login(w.street_official)
    response = client.get(reverse("charity:disbursement-create", args=[w.special.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"#{w.need.pk}" in body and "大病住院后基本生活困难" in body and "3000.00" in body
    assert "王秀兰" not in body  # the household never shows
    assert "超过 5000 元的须由 2 位不同的审批人同意" in body
    assert 'name="idempotency_key"' in body


def test_a_request_waits_for_one_approval_and_a_retry_records_once(client, ledger):
    w = ledger
    client.force_login(w.street_official)
    key = f.key()
    first = _request(client, w.special, w.need, idempotency_key=key)
    second = _request(client, w.special, w.need, idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    disbursement = Disbursement.objects.latest("pk")
    assert first["Location"] == disbursement.get_absolute_url()
    assert disbursement.status == "pending" and disbursement.required_approvals == 1
    assert Disbursement.objects.filter(fund=w.special).count() == 2
    assert _cash(w.special) == Decimal("40000.00")


def test_above_the_threshold_two_different_people_must_approve(client, ledger):
    w = ledger
    big = f.money_need(w, "9000.00")
    client.force_login(w.street_official)
    assert _request(client, w.special, big, amount="6000.00").status_code == 302
    disbursement = Disbursement.objects.latest("pk")
    assert disbursement.required_approvals == 2
    client.force_login(w.official)
    page = client.get(disbursement.get_absolute_url())
    assert page.context["can_decide"] and page.context["approve_form"] is not None
    assert _approve(client, disbursement).status_code == 302
    disbursement.refresh_from_db()
    assert disbursement.status == "pending" and _cash(w.special) == Decimal("40000.00")
    # The same person again: refused in plain words, nothing recorded.
    again = _approve(client, disbursement)
    assert again.status_code == 400
    assert "您已审批过这笔拨付，同一人不能审批两次。" in again.content.decode()
    assert 'data-testid="approve"' not in again.content.decode()  # no form to try a third time
    assert disbursement.approvals.count() == 1
    # A second official pays it.
    second = f.user("minzheng2", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs)
    client.force_login(second)
    assert _approve(client, disbursement).status_code == 302
    disbursement.refresh_from_db()
    assert disbursement.status == "paid"
    assert _cash(w.special) == Decimal("34000.00")
    body = client.get(disbursement.get_absolute_url()).content.decode()
    assert "minzheng2" in body or str(second) in body
    assert 'data-testid="approve"' not in body


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0"}, "amount", "必须大于 0。"),
        ({"amount": "-1"}, "amount", "必须大于 0。"),
        ({"amount": "12.345"}, "amount", "最多两位小数（精确到分）。"),
        ({"purpose": ""}, "purpose", "请写明用途"),
        ({"need": ""}, "need", "请选择需求。"),
        ({"kind": "goods", "item": "", "quantity": ""}, "item", "物资拨付须填写物资名称。"),
        ({"amount": "2100.00"}, None, "余额不足"),
        ({"amount": "3500.00"}, None, "超过需求金额"),
        ({"kind": "goods", "item": "大米", "quantity": "2"}, None, "拨付类型与需求类型不符"),
        ({"idempotency_key": "x"}, None, "请求编号无效"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(client, ledger, overrides, field, message):
    w = ledger
    client.force_login(w.charity_staff)
    # Leave the charity fund with less than the need so "above the balance" can be tried.
    donation_refund(
        donation=w.donations[w.charity_fund.pk],
        by=w.charity_staff,
        reason="退回",
        idempotency_key=f.key(),
    )
    sweep.give(w.charity_fund, w.charity_staff, "2000.00")
    need = f.money_need(w, "3000.00")
    before = Disbursement.objects.count()
    response = _request(client, w.charity_fund, need, **overrides)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in str(e) for e in errors.get(field or "__all__", [])), errors
    assert Disbursement.objects.count() == before
    assert _cash(w.charity_fund) == Decimal("2000.00")


def test_street_official_of_another_street_cannot_request_for_this_streets_need(client, ledger):
    w = ledger
    client.force_login(w.street_official2)
    form = client.get(reverse("charity:disbursement-create", args=[w.special.pk])).context["form"]
    assert w.need not in form.fields["need"].queryset
    response = _request(client, w.special, w.need)
    assert response.status_code == 400
    assert "该需求不能从这个基金拨付" in response.content.decode()
    assert Disbursement.objects.filter(requested_by=w.street_official2).count() == 0


def test_street_official_cannot_request_from_a_charitys_fund(client, ledger):
    w = ledger
    client.force_login(w.street_official)
    assert _request(client, w.charity_fund, w.need).status_code == 404


# --- Decisions ----------------------------------------------------------------------------


def test_one_approval_pays_and_the_page_shows_who_and_when(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.special.pk]
    client.force_login(w.official)
    response = _approve(client, disbursement, note="材料齐全")
    assert response.status_code == 302
    disbursement.refresh_from_db()
    assert disbursement.status == "paid" and _cash(w.special) == Decimal("39500.00")
    body = client.get(disbursement.get_absolute_url()).content.decode()
    assert "材料齐全" in body and "已拨付" in body


def test_requester_cannot_approve_their_own_request(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.charity_fund.pk]
    client.force_login(w.charity_staff)
    page = client.get(disbursement.get_absolute_url())
    assert page.status_code == 200 and page.context["approve_form"] is None
    response = _approve(client, disbursement)
    assert response.status_code == 403
    assert "申请人不能审批自己的申请" in response.content.decode()
    assert not disbursement.approvals.exists()


def test_reject_needs_a_reason_then_ends_the_request(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.special.pk]
    client.force_login(w.official)
    missing = _reject(client, disbursement, reason="")
    assert missing.status_code == 400
    assert "请写明驳回原因。" in missing.content.decode()
    assert _reject(client, disbursement).status_code == 302
    disbursement.refresh_from_db()
    assert disbursement.status == "rejected" and disbursement.rejection_reason == "材料不全"
    late = _approve(client, disbursement)
    assert late.status_code == 400
    assert "这笔拨付已经处理完毕" in late.content.decode() or "您已审批过" in late.content.decode()


def test_auditor_reads_but_every_decision_is_refused(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.charity_fund.pk]
    client.force_login(w.users[Role.AUDITOR])
    page = client.get(disbursement.get_absolute_url())
    assert page.status_code == 200
    assert page.context["approve_form"] is None and page.context["reject_form"] is None
    assert _approve(client, disbursement).status_code == 403
    assert _reject(client, disbursement).status_code == 403
    assert not DisbursementApproval.objects.exists()


def test_approval_above_the_balance_is_refused_and_records_nothing(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.charity_fund.pk]
    donation_refund(
        donation=w.donations[w.charity_fund.pk],
        by=w.charity_staff,
        reason="退回",
        idempotency_key=f.key(),
    )
    client.force_login(w.official)
    response = _approve(client, disbursement)
    assert response.status_code == 400
    assert "不足" in response.content.decode()
    disbursement.refresh_from_db()
    assert disbursement.status == "pending" and not disbursement.approvals.exists()


# --- List and export ----------------------------------------------------------------------


def test_list_filters(client, ledger):
    w = ledger
    client.force_login(w.official)
    url = reverse("charity:disbursement-list")

    def pks(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {d.pk for d in response.context["page"].object_list}

    everything = {d.pk for d in w.disbursements.values()}
    assert pks() == everything
    assert pks(fund=w.charity_fund.pk) == {w.disbursements[w.charity_fund.pk].pk}
    assert pks(awaiting="true") == everything
    _approve(client, w.disbursements[w.special.pk])
    assert pks(status="paid") == {w.disbursements[w.special.pk].pk}
    assert pks(awaiting="true") == everything - {w.disbursements[w.special.pk].pk}
    assert pks(state="emergency") == set()
    assert client.get(url, {"status": "nonsense"}).status_code == 400
    # The charity's staff see their own, and nothing waits for them (they asked).
    client.force_login(w.charity_staff)
    assert pks() == {w.disbursements[w.charity_fund.pk].pk}
    assert pks(awaiting="true") == set()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("role", [Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL])
def test_list_query_count_is_constant(client, ledger, role):
    w = ledger
    client.force_login(w.users[role])
    url = reverse("charity:disbursement-list") + "?awaiting=&state="
    small = _queries(client, url)
    for _ in range(6):
        need = f.money_need(w, "100.00")
        sweep.ask(w.special, need, w.street_official, "100.00")
    assert _queries(client, url) == small


def test_export_has_the_filtered_rows_without_the_household(client, ledger):
    w = ledger
    client.force_login(w.users[Role.AUDITOR])
    response = client.get(reverse("charity:disbursement-export"), {"fund": w.special.pk})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == w.disbursements[w.special.pk].pk
    assert "王秀兰" not in str(rows)


# --- Emergency payment from the reserve ---------------------------------------------------


def _fill_reserve(w, amount="5000.00"):
    fund_transfer(
        source=w.special,
        target=w.reserve,
        amount=amount,
        by=w.official,
        memo="补充备用金",
        idempotency_key=f.key(),
    )


def _advance(client, need, **overrides):
    data = {"amount": "800.00", "purpose": "急难临时救助", "idempotency_key": f.key()}
    data.update(overrides)
    return client.post(reverse("charity:reserve-advance", args=[need.pk]), data)


def test_street_official_pays_an_emergency_from_the_reserve_then_it_is_regularised(client, ledger):
    w = ledger
    _fill_reserve(w)
    client.force_login(w.street_official)
    page = client.get(reverse("charity:reserve-advance", args=[w.emergency.pk]))
    assert page.status_code == 200 and "5000.00" in page.content.decode()
    key = f.key()
    response = _advance(client, w.emergency, idempotency_key=key)
    assert response.status_code == 302
    assert _advance(client, w.emergency, idempotency_key=key)["Location"] == response["Location"]
    disbursement = Disbursement.objects.get(emergency=True)
    assert disbursement.status == "paid" and _cash(w.reserve) == Decimal("4200.00")
    body = client.get(response["Location"]).content.decode()
    assert "补办审批期限" in body and "尚未完成" in body
    client.force_login(w.official)
    assert _approve(client, disbursement).status_code == 302
    disbursement.refresh_from_db()
    assert disbursement.regularised_at is not None


def test_reserve_payment_refuses_bad_input_and_a_normal_need(client, ledger):
    w = ledger
    _fill_reserve(w, "500.00")
    client.force_login(w.official)
    for overrides, message in [
        ({"amount": "0"}, "必须大于 0。"),
        ({"amount": "1.001"}, "最多两位小数"),
        ({"purpose": ""}, "请写明用途"),
        ({"amount": "600.00"}, "不足"),
    ]:
        response = _advance(client, w.emergency, **overrides)
        assert response.status_code == 400, overrides
        assert message in response.content.decode(), overrides
    normal = client.get(reverse("charity:reserve-advance", args=[w.need.pk]))
    assert "只有急难需求可以从备用金先行拨付" in normal.content.decode()
    assert _advance(client, w.need, amount="100.00").status_code == 400
    assert not Disbursement.objects.filter(emergency=True).exists()
    assert _cash(w.reserve) == Decimal("500.00")


def test_overdue_emergency_payments_are_flagged_in_the_list_and_on_the_workbench(client, ledger):
    w = ledger
    _fill_reserve(w)
    client.force_login(w.street_official)
    assert _advance(client, w.emergency).status_code == 302
    disbursement = Disbursement.objects.get(emergency=True)
    reserve_overdue_flag(now=timezone.now() + timedelta(days=30))
    client.force_login(w.official)
    url = reverse("charity:disbursement-list")
    overdue = client.get(url, {"state": "overdue"}).context["page"].object_list
    assert [d.pk for d in overdue] == [disbursement.pk]
    assert "补办逾期" in client.get(url, {"state": "overdue"}).content.decode()
    to_regularise = client.get(url, {"state": "to_regularise"}).context["page"].object_list
    assert [d.pk for d in to_regularise] == [disbursement.pk]
    detail = client.get(disbursement.get_absolute_url()).content.decode()
    assert "补办审批已逾期" in detail

    request = RequestFactory().get("/workbench/")
    request.user = w.official
    card = render_to_string("charity/_workbench.html", {"request": request})
    assert "瑶海益家社会救助专项基金" in card and "临时救助备用金" in card
    assert 'data-testid="overdue">1<' in card
    assert 'data-testid="to-regularise">1<' in card
    # Waiting for civil affairs: the four requests and the payment to regularise.
    assert 'data-testid="awaiting">5<' in card


def test_workbench_card_is_empty_for_those_without_fund_pages(ledger):
    request = RequestFactory().get("/workbench/")
    for user in (ledger.users[Role.VOLUNTEER], AnonymousUser()):
        request.user = user
        assert "基金与拨付" not in render_to_string("charity/_workbench.html", {"request": request})
    request.user = ledger.charity_staff
    card = render_to_string("charity/_workbench.html", {"request": request})
    assert "助餐项目资金" in card and "瑶海益家" not in card


def test_emergency_need_is_left_submitted(ledger):
    assert ledger.emergency.status == Need.Status.SUBMITTED
