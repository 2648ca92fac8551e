"""`ledger_check` and the audit behind it: a clean ledger passes, tampering is found."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from charity.models import Account, Donation, Fund, Operation, Posting, Transaction
from charity.selectors.audit import ledger_verify
from charity.services.disbursements import disbursement_approve, disbursement_request
from charity.services.donations import donation_record
from marketplace.models import Role
from tests import factories as f


@pytest.fixture
def ledger(world):
    """The special fund with a donation of 8,000.00 and a paid disbursement of 3,000.00."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    special = f.fund(world.civil_affairs, Fund.Kind.SPECIAL, name="瑶海益家", code="yaohai-yijia")
    donation_record(
        fund=special,
        by=official,
        idempotency_key=f.key(),
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="合肥某商贸公司",
        amount="8000.00",
    )
    need = f.money_need(world, "3000.00")
    disbursement = disbursement_request(
        fund=special,
        need=need,
        by=world.users[Role.STREET_OFFICIAL],
        kind="funds",
        amount="3000.00",
        purpose="大病住院后临时生活救助",
        idempotency_key=f.key(),
    )
    disbursement_approve(disbursement=disbursement, by=official, idempotency_key=f.key())
    world.special = special
    world.official = official
    return world


def run(*args):
    out = StringIO()
    call_command("ledger_check", *args, stdout=out)
    return out.getvalue()


def test_clean_ledger_passes_with_its_figures(ledger):
    output = run()
    assert "范围：全部基金" in output
    assert "基金 1 个，账户 4 个，分录 2 笔，明细 4 行" in output
    assert "借贷不平衡的分录：0" in output
    assert "余额与明细合计不符的账户：0" in output
    assert "余额为负的资产账户：0" in output
    assert "重复记账的请求编号：0" in output
    assert "账目核对通过。" in output
    assert ledger.special.account(Account.Kind.CASH).balance == Decimal("5000.00")


def test_one_fund_only(ledger):
    other = f.fund(ledger.civil_affairs, Fund.Kind.RESERVE)
    output = run("--fund", "yaohai-yijia")
    assert "基金：瑶海益家（yaohai-yijia）" in output
    assert "基金 1 个，账户 4 个，分录 2 笔，明细 4 行" in output
    assert "分录 0 笔" in run("--fund", other.code)


def test_tampered_balance_fails_with_exit_code_1(ledger):
    donations = Account.objects.get(fund=ledger.special, kind=Account.Kind.DONATIONS)
    # Simulates a write that bypassed the ledger service.
    Account.objects.filter(pk=donations.pk).update(balance=Decimal("-7000.00"))
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("ledger_check", stdout=out)
    assert refused.value.returncode == 1
    assert "账目核对未通过" in str(refused.value)
    assert f"余额与明细合计不符的账户：1（#{donations.pk}）" in out.getvalue()
    assert "账目核对通过" not in out.getvalue()


def test_unknown_fund_is_refused_in_chinese(ledger):
    with pytest.raises(CommandError, match="没有编号为“no-such-fund”的基金。"):
        run("--fund", "no-such-fund")


def test_audit_finds_rows_written_around_the_service(ledger):
    """On SQLite only the service keeps these rules (PostgreSQL refuses the unbalanced one at
    commit, so the rows are rolled back before the test ends), so the audit must see them."""
    cash = Account.objects.get(fund=ledger.special, kind=Account.Kind.CASH)
    assert ledger_verify().ok
    with transaction.atomic():
        one_line = Transaction.objects.create(
            kind="transfer", memo="单边", created_by=ledger.official
        )
        Posting.objects.bulk_create([Posting(transaction=one_line, account=cash, amount=1)])
        operation = Operation.objects.get(transactions__kind="donation")
        Transaction.objects.create(
            kind="donation", memo="重复", created_by=ledger.official, operation=operation
        )
        report = ledger_verify()
        scoped = ledger_verify(fund=ledger.special)
        transaction.set_rollback(True)
    assert report.unbalanced_transactions[0] == one_line.pk
    assert len(report.unbalanced_transactions) == 2  # the one line and the empty repeat
    assert report.balance_mismatches == (cash.pk,)
    assert report.repeated_operations == (operation.pk,)
    assert report.negative_assets == ()
    assert not report.ok
    assert scoped.unbalanced_transactions == (one_line.pk,)
    assert ledger_verify().ok
