"""The ledger services: donations, refunds, disbursements with one or two approvers, the
reserve's emergency payments and their regularisation, transfers, idempotency keys, and the
bad input of the issue — each refusal leaves the ledger exactly as it was."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from charity.exceptions import (
    DuplicateApproval,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    LedgerError,
    NotPermitted,
)
from charity.models import (
    Account,
    Disbursement,
    Donation,
    Fund,
    ImmutablePosting,
    Operation,
    Posting,
    Transaction,
)
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_reject,
    disbursement_request,
    reserve_advance,
    reserve_overdue_flag,
)
from charity.services.donations import donation_record, donation_refund
from charity.services.ledger import fund_create, fund_transfer
from marketplace.models import Need, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def funds(world):
    w = world
    w.official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.official2 = f.user("minzheng2", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs)
    w.street_official = w.users[Role.STREET_OFFICIAL]
    w.special = f.fund(w.civil_affairs, Fund.Kind.SPECIAL, name="瑶海益家", code="yaohai-yijia")
    w.reserve = f.fund(w.civil_affairs, Fund.Kind.RESERVE, name="备用金", code="reserve")
    return w


def snapshot():
    """Everything the ledger holds, to compare before and after a refusal."""
    return (
        Transaction.objects.count(),
        Posting.objects.count(),
        Operation.objects.count(),
        Donation.objects.count(),
        Disbursement.objects.count(),
        tuple(Account.objects.order_by("pk").values_list("balance", flat=True)),
    )


def give(w, amount="10000.00", *, fund=None, key=None):
    return donation_record(
        fund=fund or w.special,
        by=w.official,
        idempotency_key=key or f.key(),
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="合肥某某科技有限公司",
        amount=amount,
    )


def balances(fund):
    return {a.kind: a.balance for a in Account.objects.filter(fund=fund)}


def cents(value) -> Decimal:
    """A database sum to the cent (SQLite sums decimals in floating point)."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def assert_balanced():
    for txn in Transaction.objects.all():
        assert cents(txn.postings.aggregate(s=Sum("amount"))["s"]) == 0
    for account in Account.objects.all():
        assert account.balance == cents(account.postings.aggregate(s=Sum("amount"))["s"])
        if account.kind in Account.ASSETS:
            assert account.balance >= 0


def test_money_donation_posts_a_balanced_entry_with_a_receipt(funds):
    donation = give(funds, "10000.50")
    assert donation.receipt_no.startswith("YH")
    assert balances(funds.special) == {
        "cash": Decimal("10000.50"),
        "goods": Decimal("0.00"),
        "donations": Decimal("-10000.50"),
        "paid_out": Decimal("0.00"),
    }
    assert_balanced()


def test_goods_donation_enters_at_its_valuation_and_service_pledge_has_no_entry(funds):
    donation_record(
        fund=funds.special,
        by=funds.official,
        idempotency_key=f.key(),
        kind=Donation.Kind.GOODS,
        donor_kind=Donation.DonorKind.PERSON,
        donor_name="李明",
        item="大米",
        quantity=50,
        unit="袋",
        valuation="2500.00",
    )
    pledge = donation_record(
        fund=funds.special,
        by=funds.official,
        idempotency_key=f.key(),
        kind=Donation.Kind.SERVICE,
        donor_kind=Donation.DonorKind.ANONYMOUS,
        donor_name="不应保存",
        service_description="每月两次义诊",
        service_hours="8",
    )
    assert balances(funds.special)["goods"] == Decimal("2500.00")
    assert pledge.transaction is None and pledge.donor_name == ""
    assert pledge.public_donor == "匿名"
    assert Donation.objects.get(item="大米").public_donor == "李*"
    assert_balanced()


@pytest.mark.parametrize("amount", ["0", "-5", "12.345", "abc", "NaN", None])
def test_bad_amounts_are_refused_and_change_nothing(funds, amount):
    give(funds, "100.00")
    before = snapshot()
    error = LedgerError if amount is None else InvalidAmount
    with pytest.raises(error) as exc:
        give(funds, amount)
    assert any(word in str(exc.value.message) for word in ("金额", "数字"))
    assert snapshot() == before


def test_goods_donation_without_valuation_is_refused(funds):
    before = snapshot()
    with pytest.raises(LedgerError, match="估值"):
        donation_record(
            fund=funds.special,
            by=funds.official,
            idempotency_key=f.key(),
            kind=Donation.Kind.GOODS,
            donor_kind=Donation.DonorKind.PERSON,
            donor_name="李明",
            item="棉被",
            quantity=10,
        )
    assert snapshot() == before


def test_a_retried_donation_is_applied_once_and_other_content_is_refused(funds):
    key = f.key()
    first = give(funds, "500.00", key=key)
    again = give(funds, "500.00", key=key)
    assert again.pk == first.pk
    assert Donation.objects.count() == 1 and Transaction.objects.count() == 1
    before = snapshot()
    with pytest.raises(IdempotencyConflict) as exc:
        give(funds, "600.00", key=key)
    assert "请求编号" in str(exc.value.message)
    assert snapshot() == before


def test_a_malformed_key_is_refused(funds):
    with pytest.raises(LedgerError, match="请求编号无效"):
        give(funds, "1.00", key="x")


def test_only_the_funds_managers_record_donations(funds):
    before = snapshot()
    for role in (Role.CHARITY_STAFF, Role.STREET_OFFICIAL, Role.AUDITOR, Role.VOLUNTEER):
        with pytest.raises(NotPermitted):
            donation_record(
                fund=funds.special,
                by=funds.users[role],
                idempotency_key=f.key(),
                kind=Donation.Kind.MONEY,
                donor_kind=Donation.DonorKind.ANONYMOUS,
                amount="1.00",
            )
    assert snapshot() == before


def test_refund_reverses_the_entry_once_and_not_after_spending(funds):
    donation = give(funds, "800.00")
    donation_refund(
        donation=donation, by=funds.official, reason="捐赠人撤回", idempotency_key=f.key()
    )
    donation.refresh_from_db()
    assert donation.refund_transaction.reverses_id == donation.transaction_id
    assert balances(funds.special)["cash"] == Decimal("0.00")
    with pytest.raises(InvalidState, match="已经退还"):
        donation_refund(
            donation=donation, by=funds.official, reason="再退", idempotency_key=f.key()
        )
    spent = give(funds, "300.00")
    need = f.money_need(funds, "300.00")
    d = disbursement_request(
        fund=funds.special,
        need=need,
        by=funds.street_official,
        kind=Disbursement.Kind.FUNDS,
        amount="300.00",
        purpose="临时救助金",
        idempotency_key=f.key(),
    )
    disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        donation_refund(donation=spent, by=funds.official, reason="撤回", idempotency_key=f.key())
    assert snapshot() == before
    assert_balanced()


def test_small_disbursement_needs_one_approver_who_is_not_the_requester(funds):
    give(funds, "5000.00")
    need = f.money_need(funds, "2000.00")
    d = disbursement_request(
        fund=funds.special,
        need=need,
        by=funds.street_official,
        kind=Disbursement.Kind.FUNDS,
        amount="2000.00",
        purpose="大病住院临时救助",
        idempotency_key=f.key(),
    )
    assert d.required_approvals == 1 and d.status == Disbursement.Status.PENDING
    assert d.street_id == funds.street.pk and d.category.code == "temporary_expenditure"
    with pytest.raises(NotPermitted, match="申请人"):
        disbursement_approve(disbursement=d, by=funds.street_official, idempotency_key=f.key())
    d = disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    assert d.status == Disbursement.Status.PAID and d.paid_at
    assert balances(funds.special)["cash"] == Decimal("3000.00")
    assert balances(funds.special)["paid_out"] == Decimal("2000.00")
    assert_balanced()


def test_large_disbursement_needs_two_different_approvers(funds, settings):
    settings.CHARITY_DUAL_APPROVAL_THRESHOLD = Decimal("5000")
    give(funds, "20000.00")
    need = f.money_need(funds, "8000.00")
    d = disbursement_request(
        fund=funds.special,
        need=need,
        by=funds.street_official,
        kind=Disbursement.Kind.FUNDS,
        amount="8000.00",
        purpose="重病医疗支出救助",
        idempotency_key=f.key(),
    )
    assert d.required_approvals == 2
    d = disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    assert d.status == Disbursement.Status.PENDING
    before = snapshot()
    with pytest.raises(DuplicateApproval) as exc:
        disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    assert "同一人" in str(exc.value.message)
    assert snapshot() == before
    d = disbursement_approve(disbursement=d, by=funds.official2, idempotency_key=f.key())
    assert d.status == Disbursement.Status.PAID
    assert [a.approver for a in d.approvals.all()] == [funds.official, funds.official2]
    with pytest.raises(InvalidState):
        disbursement_approve(
            disbursement=d,
            by=f.user("minzheng3", Role.CIVIL_AFFAIRS_OFFICIAL, funds.civil_affairs),
            idempotency_key=f.key(),
        )
    assert_balanced()


def test_disbursement_above_the_balance_is_refused_at_request_and_at_payment(funds):
    give(funds, "1000.00")
    need = f.money_need(funds, "3000.00")
    before = snapshot()
    with pytest.raises(InsufficientFunds) as exc:
        disbursement_request(
            fund=funds.special,
            need=need,
            by=funds.street_official,
            kind=Disbursement.Kind.FUNDS,
            amount="1500.00",
            purpose="救助",
            idempotency_key=f.key(),
        )
    assert "余额不足" in str(exc.value.message)
    assert snapshot() == before
    # Two requests that each fit, the second paid after the first drained the fund.
    requests = [
        disbursement_request(
            fund=funds.special,
            need=need,
            by=funds.street_official,
            kind=Disbursement.Kind.FUNDS,
            amount="800.00",
            purpose="救助",
            idempotency_key=f.key(),
        )
        for _ in range(2)
    ]
    disbursement_approve(disbursement=requests[0], by=funds.official, idempotency_key=f.key())
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        disbursement_approve(disbursement=requests[1], by=funds.official, idempotency_key=f.key())
    assert snapshot() == before
    assert Disbursement.objects.get(pk=requests[1].pk).approvals.count() == 0


def test_disbursement_refuses_unconfirmed_needs_wrong_kind_and_amounts_over_the_need(funds):
    give(funds, "10000.00")
    submitted = f.household(
        funds, kind=Need.Kind.FUNDS, service_type="temporary_expenditure", amount=Decimal("100")
    ).need
    service_need = f.open_need(funds, f.household(funds).need)
    need = f.money_need(funds, "1000.00")
    cases = [
        (submitted, Disbursement.Kind.FUNDS, "100.00", InvalidState, "街道确认"),
        (service_need, Disbursement.Kind.FUNDS, "100.00", LedgerError, "类型不符"),
        (need, Disbursement.Kind.FUNDS, "1000.01", LedgerError, "超过需求金额"),
    ]
    before = snapshot()
    for target, kind, amount, error, text in cases:
        with pytest.raises(error, match=text):
            disbursement_request(
                fund=funds.special,
                need=target,
                by=funds.official,
                kind=kind,
                amount=amount,
                purpose="救助",
                idempotency_key=f.key(),
            )
    assert snapshot() == before


def test_street_officials_request_only_for_their_own_street(funds):
    give(funds, "1000.00")
    need = f.money_need(funds, "100.00")
    with pytest.raises(NotPermitted):
        disbursement_request(
            fund=funds.special,
            need=need,
            by=funds.street_official2,
            kind=Disbursement.Kind.FUNDS,
            amount="100.00",
            purpose="救助",
            idempotency_key=f.key(),
        )


def test_reject_records_the_reason_and_posts_nothing(funds):
    give(funds, "1000.00")
    need = f.money_need(funds, "100.00")
    d = disbursement_request(
        fund=funds.special,
        need=need,
        by=funds.street_official,
        kind=Disbursement.Kind.FUNDS,
        amount="100.00",
        purpose="救助",
        idempotency_key=f.key(),
    )
    with pytest.raises(LedgerError, match="驳回原因"):
        disbursement_reject(disbursement=d, by=funds.official, reason=" ", idempotency_key=f.key())
    d = disbursement_reject(
        disbursement=d, by=funds.official, reason="已由医保报销", idempotency_key=f.key()
    )
    assert d.status == Disbursement.Status.REJECTED and d.transaction is None
    assert balances(funds.special)["cash"] == Decimal("1000.00")


def test_emergency_is_paid_from_the_reserve_then_regularised_or_flagged(funds, settings):
    settings.CHARITY_RESERVE_REGULARISE_DAYS = 7
    f.user("other-source", Role.CIVIL_AFFAIRS_OFFICIAL, funds.civil_affairs)
    give(funds, "10000.00")
    fund_transfer(
        source=funds.special,
        target=funds.reserve,
        amount="3000.00",
        by=funds.official,
        memo="年初备用金拨入",
        idempotency_key=f.key(),
    )
    need = f.money_need(funds, "1200.00", urgency=Need.Urgency.EMERGENCY)
    assert need.status == Need.Status.SUBMITTED
    d = reserve_advance(
        need=need,
        by=funds.street_official,
        amount="1200.00",
        purpose="火灾后临时生活救助",
        idempotency_key=f.key(),
    )
    assert d.status == Disbursement.Status.PAID and d.emergency and d.awaiting_regularisation
    assert balances(funds.reserve)["cash"] == Decimal("1800.00")
    assert d.regularise_by > timezone.now() + timedelta(days=6)
    assert reserve_overdue_flag() == 0
    late = timezone.now() + timedelta(days=8)
    assert reserve_overdue_flag(now=late) == 1
    assert reserve_overdue_flag(now=late) == 0  # flagged once
    d = disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    assert d.regularised_at and d.flagged_at is None and not d.awaiting_regularisation
    assert Transaction.objects.filter(disbursement=d).count() == 1  # approval posts nothing
    assert_balanced()


def test_only_emergencies_and_only_their_street_or_civil_affairs_use_the_reserve(funds):
    normal = f.money_need(funds, "100.00")
    emergency = f.money_need(funds, "100.00", urgency=Need.Urgency.EMERGENCY)
    with pytest.raises(LedgerError, match="急难"):
        reserve_advance(
            need=normal, by=funds.official, amount="10.00", purpose="x", idempotency_key=f.key()
        )
    for user in (funds.street_official2, funds.users[Role.CHARITY_STAFF]):
        with pytest.raises(NotPermitted):
            reserve_advance(
                need=emergency, by=user, amount="10.00", purpose="x", idempotency_key=f.key()
            )
    with pytest.raises(InsufficientFunds):
        reserve_advance(
            need=emergency, by=funds.official, amount="10.00", purpose="x", idempotency_key=f.key()
        )
    assert Disbursement.objects.count() == 0


def test_staff_of_one_organisation_cannot_touch_another_organisations_fund(funds):
    staff = funds.users[Role.CHARITY_STAFF]
    other = f.organisation("胜利路互助会", "mutual_aid", funds.street2)
    small = f.fund(other, Fund.Kind.MUTUAL_AID, name="互助金")
    with pytest.raises(NotPermitted):
        donation_record(
            fund=small,
            by=staff,
            idempotency_key=f.key(),
            kind=Donation.Kind.MONEY,
            donor_kind=Donation.DonorKind.ANONYMOUS,
            amount="1.00",
        )
    with pytest.raises(NotPermitted):
        fund_create(organisation=other, kind=Fund.Kind.MUTUAL_AID, name="y", code="y", by=staff)


def test_postings_are_never_changed_or_deleted_through_the_models(funds):
    give(funds, "10.00")
    posting = Posting.objects.first()
    posting.amount = Decimal("99")
    with pytest.raises(ImmutablePosting):
        posting.save()
    with pytest.raises(ImmutablePosting):
        posting.delete()


def test_there_is_one_special_fund_and_one_reserve(funds):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        f.fund(funds.civil_affairs, Fund.Kind.SPECIAL, name="第二个", code="second")


def test_a_project_takes_one_place_per_need_paid_and_revisions_do_not_give_it_back(
    funds, make_project
):
    page = make_project(publish=True, gives_funds=True, capacity=5)
    project_fund = f.fund(funds.charity, Fund.Kind.PROJECT, name="助餐资金", project=page)
    staff = funds.users[Role.CHARITY_STAFF]
    donation_record(
        fund=project_fund,
        by=staff,
        idempotency_key=f.key(),
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ANONYMOUS,
        amount="3000.00",
        project=page,
    )
    first, second = f.money_need(funds, "1000.00"), f.money_need(funds, "1000.00")
    for need, amount in ((first, "400.00"), (first, "500.00"), (second, "300.00")):
        d = disbursement_request(
            fund=project_fund,
            need=need,
            by=staff,
            kind=Disbursement.Kind.FUNDS,
            amount=amount,
            purpose="助餐补贴",
            idempotency_key=f.key(),
        )
        disbursement_approve(disbursement=d, by=funds.official, idempotency_key=f.key())
    page.refresh_from_db()
    assert (page.places_taken, page.open_capacity) == (2, 3)
    # An editor publishes a new revision written before the payments.
    draft = page.get_latest_revision()
    draft.publish()
    page.refresh_from_db()
    assert page.places_taken == 2


def test_the_beat_task_flags_an_emergency_payment_not_regularised_in_time(funds):
    from charity.tasks import reserve_overdue_flag as task

    give(funds, "5000.00")
    fund_transfer(
        source=funds.special,
        target=funds.reserve,
        amount="1000.00",
        by=funds.official,
        memo="备用金拨入",
        idempotency_key=f.key(),
    )
    need = f.money_need(funds, "500.00", urgency=Need.Urgency.EMERGENCY)
    paid = reserve_advance(
        need=need, by=funds.official, amount="500.00", purpose="先行救助", idempotency_key=f.key()
    )
    assert task.apply().get() == 0
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert task.apply().get() == 1
        assert task.apply().get() == 0
    paid.refresh_from_db()
    assert paid.flagged_at is not None and paid.awaiting_regularisation


def test_a_fund_can_be_spent_to_the_last_cent(funds):
    """Regression: balances were once added in the database, which SQLite does in floating
    point, so 0.30 − 0.10 − 0.20 fell a hair below zero and the check constraint refused."""
    give(funds, "0.30")
    for amount in ("0.10", "0.20"):
        fund_transfer(
            source=funds.special,
            target=funds.reserve,
            amount=amount,
            by=funds.official,
            memo="备用金拨入",
            idempotency_key=f.key(),
        )
    assert balances(funds.special)["cash"] == Decimal("0.00")
    assert balances(funds.reserve)["cash"] == Decimal("0.30")
    assert_balanced()
