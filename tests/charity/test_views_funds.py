"""Fund pages: the list (filter, constant query count), one fund's books with the actions each
role may take, the ledger's Excel export, and transfers with bad input refused."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from charity.models import Account, Fund, Transaction
from marketplace.models import Role
from tests import factories as f
from tests.charity import test_access_sweep as sweep

pytestmark = pytest.mark.django_db
ledger = sweep.ledger
give = sweep.give


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _cash(fund) -> Decimal:
    return Account.objects.get(fund=fund, kind=Account.Kind.CASH).balance


# --- List ---------------------------------------------------------------------------------


def test_list_shows_readable_funds_with_balances(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    response = client.get(reverse("charity:fund-list"))
    assert response.status_code == 200
    assert [fund.pk for fund in response.context["page"].object_list] == [w.charity_fund.pk]
    body = response.content.decode()
    assert "助餐项目资金" in body and "20000.00" in body
    assert "胜利路助学资金" not in body


def test_list_filters_by_kind_and_refuses_a_bad_kind(client, ledger):
    w = ledger
    client.force_login(w.users[Role.AUDITOR])
    url = reverse("charity:fund-list")
    rows = client.get(url, {"kind": "special"}).context["page"].object_list
    assert [fund.pk for fund in rows] == [w.special.pk]
    assert len(client.get(url).context["page"].object_list) == 5
    response = client.get(url, {"kind": "nonsense"})
    assert response.status_code == 400
    assert response.context["page"].object_list == []


@pytest.mark.parametrize("role", [Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR])
def test_list_query_count_is_constant(client, ledger, role):
    w = ledger
    client.force_login(w.users[role])
    url = reverse("charity:fund-list") + "?kind=mutual_aid"
    for i in range(2):
        f.fund(w.mutual_aid, Fund.Kind.MUTUAL_AID, name=f"互助金{i}")
    small = _queries(client, url)
    for i in range(2, 8):
        f.fund(w.mutual_aid, Fund.Kind.MUTUAL_AID, name=f"互助金{i}")
    assert _queries(client, url) == small
    assert len(client.get(url).context["page"].object_list) == 8


# --- Detail -------------------------------------------------------------------------------


def test_detail_shows_balances_sections_and_the_managers_actions(client, ledger):
    w = ledger
    client.force_login(w.official)
    response = client.get(reverse("charity:fund-detail", args=[w.special.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["received"] == Decimal("40000.00")
    assert response.context["paid_out"] == Decimal("0.00")
    for link in ("donation-create", "disbursement-create", "fund-transfer", "fund-ledger-export"):
        assert reverse(f"charity:{link}", args=[w.special.pk]) in body, link
    assert len(response.context["donations"].object_list) == 2
    assert len(response.context["disbursements"].object_list) == 1
    assert len(response.context["lines"].object_list) == 4
    assert "捐赠入账" in body


def test_auditor_reads_but_sees_no_action_but_the_export(client, ledger):
    w = ledger
    client.force_login(w.users[Role.AUDITOR])
    body = client.get(reverse("charity:fund-detail", args=[w.charity_fund.pk])).content.decode()
    assert reverse("charity:fund-ledger-export", args=[w.charity_fund.pk]) in body
    for link in ("donation-create", "disbursement-create", "fund-transfer"):
        assert reverse(f"charity:{link}", args=[w.charity_fund.pk]) not in body, link


def test_street_official_may_only_request_from_the_special_fund(client, ledger):
    w = ledger
    client.force_login(w.street_official)
    body = client.get(reverse("charity:fund-detail", args=[w.special.pk])).content.decode()
    assert reverse("charity:disbursement-create", args=[w.special.pk]) in body
    for link in ("donation-create", "fund-transfer", "fund-ledger-export"):
        assert reverse(f"charity:{link}", args=[w.special.pk]) not in body, link
    reserve = client.get(reverse("charity:fund-detail", args=[w.reserve.pk])).content.decode()
    assert reverse("charity:disbursement-create", args=[w.reserve.pk]) not in reserve


def test_detail_sections_are_paged_separately_with_constant_queries(client, ledger):
    w = ledger
    client.force_login(w.official)
    url = reverse("charity:fund-detail", args=[w.special.pk])
    small = _queries(client, url)
    for _ in range(22):
        give(w.special, w.official, "10.00")
    assert _queries(client, url) == small
    response = client.get(url, {"donations": 2})
    assert len(response.context["donations"].object_list) == 4
    assert response.context["lines"].number == 1
    assert "donations=2" in response.context["lines_query"]
    assert "donations=" not in response.context["donations_query"]


# --- Export -------------------------------------------------------------------------------


def test_ledger_export_has_the_lines_and_the_donations(client, ledger):
    w = ledger
    client.force_login(w.users[Role.AUDITOR])
    response = client.get(reverse("charity:fund-ledger-export", args=[w.special.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["记账明细", "捐赠明细"]
    lines = list(book["记账明细"].iter_rows(values_only=True))
    assert len(lines) == 1 + 4
    debit = sum(Decimal(str(r[5] or 0)) for r in lines[1:])
    credit = sum(Decimal(str(r[6] or 0)) for r in lines[1:])
    assert debit == credit == Decimal("40000")
    donations = list(book["捐赠明细"].iter_rows(values_only=True))
    assert len(donations) == 1 + 2
    assert donations[1][4] == "合肥爱心企业"


def test_street_official_cannot_export_the_ledger(client, ledger):
    client.force_login(ledger.street_official)
    url = reverse("charity:fund-ledger-export", args=[ledger.special.pk])
    assert client.get(url).status_code == 403


# --- Transfer -----------------------------------------------------------------------------


def _transfer(client, w, **overrides):
    data = {
        "target": w.reserve.pk,
        "amount": "1000.00",
        "memo": "补充备用金",
        "idempotency_key": f.key(),
    }
    data.update(overrides)
    return client.post(reverse("charity:fund-transfer", args=[w.special.pk]), data)


def test_transfer_moves_money_once_for_a_retried_post(client, ledger):
    w = ledger
    client.force_login(w.official)
    form = client.get(reverse("charity:fund-transfer", args=[w.special.pk])).context["form"]
    key = form.initial["idempotency_key"]
    assert len(key) == 32
    targets = list(form.fields["target"].queryset)
    assert w.special not in targets and w.reserve in targets
    first = _transfer(client, w, idempotency_key=key)
    again = _transfer(client, w, idempotency_key=key)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == reverse("charity:fund-detail", args=[w.special.pk])
    assert _cash(w.special) == Decimal("39000.00")
    assert _cash(w.reserve) == Decimal("1000.00")
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0"}, "amount", "金额（元）必须大于 0。"),
        ({"amount": "-5"}, "amount", "金额（元）必须大于 0。"),
        ({"amount": "1.234"}, "amount", "金额（元）最多两位小数（精确到分）。"),
        ({"amount": "abc"}, "amount", "金额（元）必须是数字。"),
        ({"memo": ""}, "memo", "请写明调拨事由。"),
        ({"target": ""}, "target", "请选择调入基金。"),
        ({"amount": "999999.00"}, None, "余额不足"),
        ({"idempotency_key": "short"}, None, "请求编号无效"),
    ],
)
def test_transfer_bad_input_changes_nothing(client, ledger, overrides, field, message):
    w = ledger
    client.force_login(w.official)
    response = _transfer(client, w, **overrides)
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in str(e) for e in errors), form.errors
    assert message in response.content.decode()
    assert _cash(w.special) == Decimal("40000.00")
    assert not Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).exists()


def test_transfer_to_the_same_fund_is_not_offered(client, ledger):
    w = ledger
    client.force_login(w.official)
    response = _transfer(client, w, target=w.special.pk)
    assert response.status_code == 400
    assert "不能调入该基金" in response.content.decode()


def test_charity_staff_transfer_only_from_their_own_fund(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    assert _transfer(client, w).status_code == 404
    url = reverse("charity:fund-transfer", args=[w.charity_fund.pk])
    response = client.post(
        url,
        {
            "target": w.special.pk,
            "amount": "100",
            "memo": "并入专项基金",
            "idempotency_key": f.key(),
        },
    )
    assert response.status_code == 302
    assert _cash(w.charity_fund) == Decimal("19900.00")


def test_auditor_cannot_transfer(client, ledger):
    client.force_login(ledger.users[Role.AUDITOR])
    assert _transfer(client, ledger).status_code == 403
    assert _cash(ledger.special) == Decimal("40000.00")
