"""Donation pages: recording money, goods and service pledges with a receipt, a double or
retried submit recorded once, bad input refused on the field with the ledger unchanged,
and refunds (refused once the money is spent, and to those who only read)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from charity.models import Account, Donation, Posting
from marketplace.models import Role
from tests import factories as f
from tests.charity import test_access_sweep as sweep

pytestmark = pytest.mark.django_db
ledger = sweep.ledger


def _cash(fund) -> Decimal:
    return Account.objects.get(fund=fund, kind=Account.Kind.CASH).balance


def _goods(fund) -> Decimal:
    return Account.objects.get(fund=fund, kind=Account.Kind.GOODS).balance


def _data(**overrides) -> dict:
    data = {
        "kind": "money",
        "amount": "1000.00",
        "donor_kind": "person",
        "donor_name": "李明",
        "received_on": "",
        "note": "",
        "idempotency_key": f.key(),
    }
    data.update(overrides)
    return data


def _create(client, fund, **overrides):
    data = _data(**overrides)
    if not data["received_on"]:
        data["received_on"] = timezone.localdate().isoformat()
    return client.post(reverse("charity:donation-create", args=[fund.pk]), data)


def test_form_carries_a_fresh_key_and_the_fields_of_each_kind(client, ledger):
    client.force_login(ledger.charity_staff)
    response = client.get(reverse("charity:donation-create", args=[ledger.charity_fund.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', body)
    assert key, "the form carries a hidden key"
    for legend in ("资金捐赠填写", "物资捐赠填写", "服务认捐填写"):
        assert legend in body
    # The fund's own project is offered, and no other.
    assert list(response.context["form"].fields["project"].queryset) == [
        ledger.charity_fund.project
    ]


def test_money_donation_gives_a_receipt_and_enters_the_cash(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    response = _create(client, w.charity_fund, project=w.charity_fund.project.pk)
    assert response.status_code == 302
    donation = Donation.objects.latest("pk")
    assert response["Location"] == reverse("charity:donation-detail", args=[donation.pk])
    assert donation.project == w.charity_fund.project and donation.amount == Decimal("1000.00")
    assert _cash(w.charity_fund) == Decimal("21000.00")
    receipt = client.get(response["Location"])
    assert receipt.status_code == 200
    body = receipt.content.decode()
    assert donation.receipt_no in body and "李明" in body and "打印收据" in body


def test_a_double_submit_records_once_and_shows_the_same_receipt(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    key = f.key()
    first = _create(client, w.charity_fund, idempotency_key=key)
    second = _create(client, w.charity_fund, idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Donation.objects.filter(fund=w.charity_fund).count() == 2  # the fixture's and this
    assert _cash(w.charity_fund) == Decimal("21000.00")
    receipt_no = Donation.objects.latest("pk").receipt_no
    assert receipt_no in client.get(second["Location"]).content.decode()


def test_the_same_key_with_other_content_is_refused(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    key = f.key()
    assert _create(client, w.charity_fund, idempotency_key=key).status_code == 302
    response = _create(client, w.charity_fund, idempotency_key=key, amount="2000.00")
    assert response.status_code == 400
    assert "该请求编号已用于内容不同的操作" in response.content.decode()
    assert _cash(w.charity_fund) == Decimal("21000.00")


def test_goods_donation_enters_the_goods_at_their_valuation(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    response = _create(
        client,
        w.charity_fund,
        kind="goods",
        amount="",
        item="大米",
        quantity="50",
        unit="袋",
        valuation="2500.00",
        donor_kind="organisation",
        donor_name="某粮油公司",
    )
    assert response.status_code == 302
    donation = Donation.objects.latest("pk")
    assert (donation.item, donation.quantity, donation.valuation) == (
        "大米",
        50,
        Decimal("2500.00"),
    )
    assert _goods(w.charity_fund) == Decimal("2500.00")
    assert _cash(w.charity_fund) == Decimal("20000.00")


def test_service_pledge_and_anonymous_donor_are_recorded_without_book_value(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    before = Posting.objects.count()
    response = _create(
        client,
        w.charity_fund,
        kind="service",
        amount="",
        service_description="每周义诊一次",
        service_hours="20",
        donor_kind="anonymous",
        donor_name="不应保存的名字",
    )
    assert response.status_code == 302
    donation = Donation.objects.latest("pk")
    assert donation.donor_name == "" and donation.transaction_id is None
    assert Posting.objects.count() == before
    assert "匿名" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0"}, "amount", "金额（元）必须大于 0。"),
        ({"amount": "-100"}, "amount", "金额（元）必须大于 0。"),
        ({"amount": "10.555"}, "amount", "金额（元）最多两位小数（精确到分）。"),
        ({"amount": ""}, "amount", "资金捐赠须填写金额。"),
        (
            {"kind": "goods", "amount": "", "item": "棉被", "quantity": "10", "valuation": ""},
            "valuation",
            "物资捐赠须填写估值，才能入账和公示。",
        ),
        (
            {"kind": "goods", "item": "棉被", "quantity": "10", "valuation": "1.001"},
            "valuation",
            "估值（元）最多两位小数（精确到分）。",
        ),
        ({"kind": "goods", "item": "", "quantity": "", "valuation": "10"}, "item", "物资名称"),
        ({"kind": "service", "service_description": ""}, "service_description", "服务认捐"),
        ({"donor_name": "  "}, "donor_name", "请填写捐赠方名称，或选择匿名。"),
        ({"donor_kind": "organisation", "donor_name": ""}, "donor_name", "请填写捐赠方名称"),
        ({"kind": "bitcoin"}, "kind", "kind"),
        ({"received_on": "2999-01-01"}, "received_on", "接收日期不能晚于今天。"),
        ({"idempotency_key": ""}, None, "请求编号无效，请刷新页面后重新提交。"),
    ],
)
def test_bad_input_is_refused_on_the_field_and_changes_nothing(
    client, ledger, overrides, field, message
):
    w = ledger
    client.force_login(w.charity_staff)
    count, cash, goods = Donation.objects.count(), _cash(w.charity_fund), _goods(w.charity_fund)
    key = overrides.get("idempotency_key", f.key())
    response = _create(client, w.charity_fund, **{**overrides, "idempotency_key": key})
    assert response.status_code == 400
    form = response.context["form"]
    assert (field or "__all__") in form.errors, form.errors
    if message != "kind":
        assert any(message in str(e) for e in form.errors[field or "__all__"]), form.errors
    # The key survives the re-render, so the corrected form is still one operation.
    if key:
        assert f'value="{key}"' in response.content.decode()
    assert Donation.objects.count() == count
    assert (_cash(w.charity_fund), _goods(w.charity_fund)) == (cash, goods)


def test_another_funds_project_cannot_be_named(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    response = _create(client, w.charity_fund, project=w.charity2_fund.project.pk)
    assert response.status_code == 400
    assert "project" in response.context["form"].errors


def test_staff_of_another_charity_and_the_auditor_cannot_record(client, ledger):
    w = ledger
    client.force_login(w.charity2_staff)
    assert _create(client, w.charity_fund).status_code == 404
    client.force_login(w.users[Role.AUDITOR])
    assert _create(client, w.charity_fund).status_code == 403
    assert _cash(w.charity_fund) == Decimal("20000.00")


def test_the_reserve_takes_no_donation(client, ledger):
    client.force_login(ledger.official)
    url = reverse("charity:donation-create", args=[ledger.reserve.pk])
    response = client.get(url)
    assert response.status_code == 403
    assert "备用金不接受捐赠" in response.content.decode()


# --- Refund -------------------------------------------------------------------------------


def _refund(client, donation, **overrides):
    data = {"reason": "捐赠方要求退回", "idempotency_key": f.key(), **overrides}
    return client.post(reverse("charity:donation-refund", args=[donation.pk]), data)


def test_refund_reverses_the_entry_once(client, ledger):
    w = ledger
    donation = w.donations[w.charity_fund.pk]
    client.force_login(w.charity_staff)
    page = client.get(reverse("charity:donation-detail", args=[donation.pk]))
    assert "退还捐赠" in page.content.decode()
    key = f.key()
    response = _refund(client, donation, idempotency_key=key)
    assert response.status_code == 302
    assert _refund(client, donation, idempotency_key=key).status_code == 302
    assert _cash(w.charity_fund) == Decimal("0.00")
    donation.refresh_from_db()
    assert donation.refunded_at and donation.refund_reason == "捐赠方要求退回"
    body = client.get(response["Location"]).content.decode()
    assert "捐赠方要求退回" in body and "确认退还" not in body
    again = _refund(client, donation)
    assert again.status_code == 400
    assert "这笔捐赠已经退还过" in again.content.decode()


def test_refund_is_refused_once_the_money_is_spent(client, ledger):
    w = ledger
    disbursement = w.disbursements[w.charity_fund.pk]
    client.force_login(w.official)
    paid = client.post(
        reverse("charity:disbursement-approve", args=[disbursement.pk]),
        {"note": "", "idempotency_key": f.key()},
    )
    assert paid.status_code == 302
    client.force_login(w.charity_staff)
    response = _refund(client, w.donations[w.charity_fund.pk])
    assert response.status_code == 400
    assert "不足" in response.content.decode()
    assert _cash(w.charity_fund) == Decimal("19500.00")
    assert Donation.objects.get(pk=w.donations[w.charity_fund.pk].pk).refunded_at is None


def test_refund_without_reason_is_refused(client, ledger):
    w = ledger
    client.force_login(w.charity_staff)
    response = _refund(client, w.donations[w.charity_fund.pk], reason="")
    assert response.status_code == 400
    assert "请写明退还原因。" in response.content.decode()
    assert _cash(w.charity_fund) == Decimal("20000.00")


def test_auditor_reads_the_receipt_but_cannot_refund(client, ledger):
    w = ledger
    donation = w.donations[w.charity_fund.pk]
    client.force_login(w.users[Role.AUDITOR])
    page = client.get(reverse("charity:donation-detail", args=[donation.pk]))
    assert page.status_code == 200 and donation.receipt_no in page.content.decode()
    assert "确认退还" not in page.content.decode()
    assert _refund(client, donation).status_code == 403
    assert _cash(w.charity_fund) == Decimal("20000.00")
