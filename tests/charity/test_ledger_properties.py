"""The ledger's properties under random use of the real services.

A hypothesis state machine donates (money, goods, services), refunds, requests, approves
(one or two approvers), rejects, pays emergencies from the reserve and regularises them,
transfers between funds, replays requests with the same idempotency key (same content: the
same object back and nothing written; other content: `IdempotencyConflict`), sends bad
amounts, overdraws, approves twice, acts without the right, and injects failures: an
exception raised after the service returned inside an outer transaction, and an exception
raised from a save in the middle of the service's writes. After every step the books are
recomputed from the rows and compared with a model kept beside them: every transaction
balanced over at least two lines, every account's balance equal to its postings and to the
model, no asset below zero, each idempotency key applied at most once, `ledger_verify().ok`,
and on PostgreSQL the deferred balance trigger fired on the spot.

`-s` prints what happened; with LEDGER_PROOF_REPORT set the figures are also written to
bench/results/ledger_properties.json (one entry per database backend)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_save
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from charity.exceptions import (
    DomainError,
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
    DisbursementApproval,
    Donation,
    Fund,
    Operation,
    Transaction,
)
from charity.selectors.audit import ledger_verify
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_reject,
    disbursement_request,
    reserve_advance,
)
from charity.services.donations import donation_record, donation_refund
from charity.services.ledger import fund_transfer
from marketplace.models import Need, Organisation, Role
from tests import factories as f

EXAMPLES = 60
STEPS_PER_EXAMPLE = 200
MIN_STEPS = 10_000
REPORT = Path(settings.BASE_DIR) / "bench" / "results" / "ledger_properties.json"
THRESHOLD = settings.CHARITY_DUAL_APPROVAL_THRESHOLD
CENT = Decimal("0.01")
TODAY = date(2025, 3, 1)
ASSETS = {Account.Kind.CASH, Account.Kind.GOODS}
# Operations that create something: each result belongs to one key.
CREATING = {"donation_record", "disbursement_request", "reserve_advance", "fund_transfer"}

COUNTS: Counter = Counter()


class Injected(Exception):
    """A failure the test injects; never raised by the product."""


def yuan(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


threshold_cents = int(THRESHOLD * 100)
SINGLE = st.integers(1, threshold_cents).map(yuan)
DUAL = st.integers(threshold_cents + 1, 4 * threshold_cents).map(yuan)
PAYMENT = st.one_of(SINGLE, SINGLE, DUAL)
GIFT = st.integers(100, 5_000_000).map(yuan)
BAD_AMOUNTS = st.sampled_from(
    ["0", "0.00", "-0.01", "-100", "1.005", "2500.123", "abc", Decimal("-5"), Decimal("0.001")]
)
# How a step that should succeed is run: plainly, inside an outer transaction that raises
# after the service returned, or with a save inside the service raising once.
MODES = st.sampled_from(["plain", "plain", "plain", "outer", "signal"])
DONORS = st.sampled_from(
    [
        (Donation.DonorKind.PERSON, "张三丰"),
        (Donation.DonorKind.ORGANISATION, "合肥某商贸公司"),
        (Donation.DonorKind.ANONYMOUS, ""),
    ]
)
WATCHED = (Operation, Transaction, Donation, Disbursement, DisbursementApproval)


# Plain SQL over the tables, so the checks share no code with the services and cost no ORM
# compile on each of the tens of thousands of calls.
STATE_SQL = """
SELECT (SELECT COUNT(*) FROM charity_operation),
       (SELECT COUNT(*) FROM charity_transaction),
       (SELECT COUNT(*) FROM charity_posting),
       (SELECT COUNT(*) FROM charity_donation),
       (SELECT COUNT(*) FROM charity_donation WHERE refund_transaction_id IS NOT NULL),
       (SELECT COUNT(*) FROM charity_disbursement),
       (SELECT COUNT(*) FROM charity_disbursement WHERE status = 'paid'),
       (SELECT COUNT(*) FROM charity_disbursement WHERE status = 'rejected'),
       (SELECT COUNT(*) FROM charity_disbursement WHERE regularised_at IS NOT NULL),
       (SELECT COUNT(*) FROM charity_disbursementapproval)
"""
BALANCES_SQL = "SELECT id, kind, balance FROM charity_account ORDER BY id"
POSTINGS_SQL = "SELECT transaction_id, account_id, amount FROM charity_posting"
TRANSACTIONS_SQL = "SELECT id, operation_id FROM charity_transaction"
OPERATIONS_SQL = "SELECT kind, result_id FROM charity_operation"


def cents(value) -> int:
    """An amount read by plain SQL as whole cents (SQLite hands back floats or ints)."""
    if isinstance(value, float):
        return round(value * 100)
    return int(value * 100)


def rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def ledger_state() -> tuple:
    """Everything a refused or rolled-back step must leave as it was: row counts, refunds,
    disbursement states, approvals and every account's balance."""
    return (
        rows(STATE_SQL)[0],
        tuple((pk, cents(balance)) for pk, _kind, balance in rows(BALANCES_SQL)),
    )


class FailOnSave:
    """Raise `Injected` from the n-th save of a ledger row, once."""

    def __init__(self, nth: int):
        self.nth = nth
        self.seen = 0
        self.fired_on = None

    def __call__(self, sender, instance, **kwargs):
        self.seen += 1
        if self.seen == self.nth and self.fired_on is None:
            self.fired_on = sender.__name__
            raise Injected(f"injected failure on saving {sender.__name__}")

    def __enter__(self):
        for model in WATCHED:
            post_save.connect(self, sender=model, weak=False, dispatch_uid=f"inject-{model}")
        return self

    def __exit__(self, *exc):
        for model in WATCHED:
            post_save.disconnect(sender=model, dispatch_uid=f"inject-{model}")
        return False


@pytest.fixture
def ledger_world(world):
    """`world` plus three civil-affairs officials, a mutual-aid society with two staff, the
    district's special fund and reserve and the society's fund, and needs: normal money
    needs of several sizes in both streets, a goods need, and two emergencies."""
    w = world
    official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.officials = [
        official,
        f.user("minzheng2", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs),
        f.user("minzheng3", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs),
    ]
    w.society = f.organisation(
        "明光路社区慈善公益互助会", Organisation.Kind.MUTUAL_AID, w.community
    )
    w.society_staff = [
        f.user("huzhu1", Role.CHARITY_STAFF, w.society),
        f.user("huzhu2", Role.CHARITY_STAFF, w.society),
    ]
    w.outsider = w.users[Role.CHARITY_STAFF]  # staff of a charity holding none of these funds
    w.funds = {
        "special": f.fund(w.civil_affairs, Fund.Kind.SPECIAL, code="yaohai-yijia"),
        "reserve": f.fund(w.civil_affairs, Fund.Kind.RESERVE, code="reserve"),
        "society": f.fund(w.society, Fund.Kind.MUTUAL_AID, code="huzhu"),
    }
    w.accounts = {
        (name, a.kind): a.pk for name, fund in w.funds.items() for a in fund.accounts.all()
    }
    w.needs = [
        f.money_need(w, "1000000.00"),
        f.money_need(w, "200000.00"),
        f.money_need(w, "3000.00"),
        f.money_need(w, "150000.00", community=w.community2),
    ]
    goods = f.household(w, kind=Need.Kind.GOODS, service_type="care", quantity=500).need
    w.goods_need = f.open_need(w, goods)
    w.emergencies = [
        f.money_need(w, "1000000.00", urgency=Need.Urgency.EMERGENCY),
        f.money_need(w, "6000.00", urgency=Need.Urgency.EMERGENCY),
    ]
    return w


class LedgerMachine(RuleBasedStateMachine):
    """Random use of the ledger's services against a model of what the books must say."""

    w = None  # the built world, set by the test

    def __init__(self):
        super().__init__()
        # Each example runs in its own savepoint, rolled back at teardown.
        self._example = transaction.atomic()
        self._example.__enter__()
        self.expected = {pk: Decimal("0.00") for pk in self.w.accounts.values()}
        self.donations: list[dict] = []
        self.disbursements: list[dict] = []
        self.committed: dict[int, Decimal] = defaultdict(Decimal)
        self.done: list[dict] = []
        COUNTS["examples"] += 1

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------------

    def account(self, fund: str, kind: str) -> int:
        return self.w.accounts[(fund, kind)]

    def balance(self, fund: str, kind: str) -> Decimal:
        return self.expected[self.account(fund, kind)]

    def move(self, fund: str, lines: dict[str, Decimal]) -> None:
        for kind, amount in lines.items():
            self.expected[self.account(fund, kind)] += amount

    def managers(self, fund: str) -> list:
        return self.w.society_staff if fund == "society" else self.w.officials

    def approvers(self, fund: str) -> list:
        return self.w.officials + (self.w.society_staff if fund == "society" else [])

    def refuse(self, rule_name, expected, fn, kwargs, code=None) -> None:
        """Run a call that must be refused with exactly `expected` and change nothing."""
        before = ledger_state()
        try:
            fn(**kwargs)
        except DomainError as exc:
            assert type(exc) is expected, (
                f"{rule_name}: expected {expected.__name__}, got {type(exc).__name__}: {exc}"
            )
            if code is not None:
                assert exc.code == code, f"{rule_name}: code {exc.code}, expected {code}"
            assert str(exc.message).strip()
        else:
            raise AssertionError(f"{rule_name}: accepted, expected {expected.__name__}")
        assert ledger_state() == before, f"{rule_name}: a refused call changed the ledger"
        COUNTS[f"refused.{expected.__name__}"] += 1
        COUNTS[f"refused_by_rule.{rule_name}"] += 1

    def apply(self, rule_name, op, fn, kwargs, mode, effect):
        """Run a call that must succeed, first through the injected failure of `mode` (after
        which nothing may remain and the retry with the same key applies it once)."""
        result = None
        if mode == "outer":
            before = ledger_state()
            try:
                with transaction.atomic():
                    fn(**kwargs)
                    raise Injected("after the service returned")
            except Injected:
                pass
            assert ledger_state() == before, f"{rule_name}: a rolled-back operation left rows"
            COUNTS["injected.after_return"] += 1
        elif mode == "signal":
            before = ledger_state()
            with FailOnSave(nth=self.nth_save) as failure, contextlib.suppress(Injected):
                result = fn(**kwargs)
            if failure.fired_on:
                assert result is None
                assert ledger_state() == before, f"{rule_name}: a failed operation left rows"
                COUNTS["injected.mid_service"] += 1
                COUNTS[f"injected.mid_service.on_{failure.fired_on}"] += 1
            else:
                COUNTS["injected.mid_service_not_reached"] += 1
        if result is None:
            result = fn(**kwargs)
            if mode != "plain":
                COUNTS["retries_applied"] += 1
        effect(result)
        self.done.append({"rule": rule_name, "op": op, "fn": fn, "kwargs": kwargs, "pk": result.pk})
        COUNTS[f"applied.{rule_name}"] += 1
        COUNTS["applied"] += 1
        return result

    nth_save = 1

    # --- donations ----------------------------------------------------------------------

    def _donate(self, fund, kind, amount, donor, who, mode):
        donor_kind, donor_name = donor
        kwargs = {
            "fund": self.w.funds[fund],
            "by": self.managers(fund)[who % len(self.managers(fund))],
            "idempotency_key": f.key(),
            "kind": kind,
            "donor_kind": donor_kind,
            "donor_name": donor_name,
            "received_on": TODAY,
        }
        if kind == Donation.Kind.MONEY:
            kwargs["amount"] = amount
        elif kind == Donation.Kind.GOODS:
            kwargs.update(item="大米", quantity=20, unit="袋", valuation=amount)
        else:
            kwargs.update(service_description="每月上门理发", service_hours=Decimal("2.0"))

        def effect(donation):
            asset = {"money": Account.Kind.CASH, "goods": Account.Kind.GOODS}.get(kind)
            if asset:
                self.move(fund, {asset: amount, Account.Kind.DONATIONS: -amount})
            self.donations.append(
                {
                    "pk": donation.pk,
                    "obj": donation,
                    "fund": fund,
                    "asset": asset,
                    "value": amount if asset else None,
                    "refunded": False,
                }
            )

        self.apply("donate", "donation_record", donation_record, kwargs, mode, effect)

    @rule(
        fund=st.sampled_from(["special", "society"]),
        amount=GIFT,
        donor=DONORS,
        who=st.integers(0, 2),
        mode=MODES,
        nth=st.integers(1, 4),
    )
    def donate_money(self, fund, amount, donor, who, mode, nth):
        self.step(nth)
        self._donate(fund, Donation.Kind.MONEY, amount, donor, who, mode)

    @rule(
        fund=st.sampled_from(["special", "society"]),
        kind=st.sampled_from([Donation.Kind.GOODS, Donation.Kind.GOODS, Donation.Kind.SERVICE]),
        amount=GIFT,
        donor=DONORS,
        who=st.integers(0, 2),
        mode=MODES,
        nth=st.integers(1, 4),
    )
    def donate_goods_or_service(self, fund, kind, amount, donor, who, mode, nth):
        self.step(nth)
        self._donate(fund, kind, amount, donor, who, mode)

    @precondition(lambda self: self.donations)
    @rule(data=st.data(), mode=MODES, nth=st.integers(1, 4))
    def refund(self, data, mode, nth):
        self.step(nth)
        d = data.draw(st.sampled_from(self.donations))
        kwargs = {
            "donation": d["obj"],
            "by": data.draw(st.sampled_from(self.managers(d["fund"]))),
            "reason": "捐赠方指定用途无法实现，原路退还",
            "idempotency_key": f.key(),
        }
        if d["asset"] is None or d["refunded"]:
            return self.refuse("refund", InvalidState, donation_refund, kwargs)
        if self.balance(d["fund"], d["asset"]) < d["value"]:
            return self.refuse("refund", InsufficientFunds, donation_refund, kwargs)

        def effect(_donation):
            d["refunded"] = True
            self.move(d["fund"], {d["asset"]: -d["value"], Account.Kind.DONATIONS: d["value"]})

        self.apply("refund", "donation_refund", donation_refund, kwargs, mode, effect)

    # --- disbursements ------------------------------------------------------------------

    def _request(self, fund, need, amount, by, mode, *, goods=False):
        kwargs = {
            "fund": self.w.funds[fund],
            "need": need,
            "by": by,
            "kind": "goods" if goods else "funds",
            "amount": amount,
            "purpose": "临时生活困难救助",
            "idempotency_key": f.key(),
        }
        if goods:
            kwargs.update(item="大米", quantity=5)
        asset = Account.Kind.GOODS if goods else Account.Kind.CASH
        if not goods and self.committed[need.pk] + amount > need.amount:
            return self.refuse("request", LedgerError, disbursement_request, kwargs, "over_need")
        if amount > self.balance(fund, asset):
            return self.refuse("request", InsufficientFunds, disbursement_request, kwargs)

        def effect(disbursement):
            if not goods:
                self.committed[need.pk] += amount
            self.disbursements.append(
                {
                    "pk": disbursement.pk,
                    "obj": disbursement,
                    "fund": fund,
                    "need": need,
                    "asset": asset,
                    "amount": amount,
                    "status": "pending",
                    "required": 2 if amount > THRESHOLD else 1,
                    "approvers": set(),
                    "requester": by,
                    "emergency": False,
                    "regularised": False,
                }
            )

        self.apply("request", "disbursement_request", disbursement_request, kwargs, mode, effect)

    def requester(self, fund, need, who):
        if fund == "society":
            return self.w.society_staff[who % 2]
        if who % 2:
            return self.w.officials[who % 3]
        street = need.street_id == self.w.street.pk
        return self.w.users[Role.STREET_OFFICIAL] if street else self.w.street_official2

    @rule(
        fund=st.sampled_from(["special", "society"]),
        need_index=st.integers(0, 4),
        amount=PAYMENT,
        who=st.integers(0, 5),
        mode=MODES,
        nth=st.integers(1, 3),
    )
    def request(self, fund, need_index, amount, who, mode, nth):
        self.step(nth)
        goods = need_index == 4
        need = self.w.goods_need if goods else self.w.needs[need_index]
        self._request(fund, need, amount, self.requester(fund, need, who), mode, goods=goods)

    @rule(fund=st.sampled_from(["special", "society"]), over=st.integers(1, 100_000))
    def request_above_balance(self, fund, over):
        self.step()
        need = self.w.needs[0]
        amount = self.balance(fund, Account.Kind.CASH) + yuan(over)
        self._request(fund, need, amount, self.requester(fund, need, 0), "plain")

    def open_disbursements(self):
        return [
            d
            for d in self.disbursements
            if d["status"] == "pending" or (d["emergency"] and not d["regularised"])
        ]

    @precondition(lambda self: self.open_disbursements())
    @rule(data=st.data(), mode=MODES, nth=st.integers(1, 4))
    def approve(self, data, mode, nth):
        self.step(nth)
        d = data.draw(st.sampled_from(self.open_disbursements()))
        candidates = [
            u
            for u in self.approvers(d["fund"])
            if u.pk != d["requester"].pk and u.pk not in d["approvers"]
        ]
        by = data.draw(st.sampled_from(candidates))
        kwargs = {
            "disbursement": d["obj"],
            "by": by,
            "idempotency_key": f.key(),
            "note": "材料齐全，同意",
        }
        last = len(d["approvers"]) + 1 >= d["required"]
        paying = last and d["status"] == "pending"
        if paying and self.balance(d["fund"], d["asset"]) < d["amount"]:
            return self.refuse("approve", InsufficientFunds, disbursement_approve, kwargs)

        def effect(_disbursement):
            d["approvers"].add(by.pk)
            if paying:
                d["status"] = "paid"
                self.move(d["fund"], {d["asset"]: -d["amount"], Account.Kind.PAID_OUT: d["amount"]})
                COUNTS["paid_after_approval"] += 1
            elif last:
                d["regularised"] = True
                COUNTS["regularised"] += 1

        self.apply("approve", "disbursement_approve", disbursement_approve, kwargs, mode, effect)

    # Rules are drawn uniformly; these copies weigh the outflow path (requests and their
    # approvals) like the many inflow and refusal rules.
    @precondition(lambda self: self.open_disbursements())
    @rule(data=st.data(), mode=MODES, nth=st.integers(1, 4))
    def approve_more(self, data, mode, nth):
        self.approve(data, mode, nth)

    @precondition(lambda self: self.open_disbursements())
    @rule(data=st.data(), mode=MODES, nth=st.integers(1, 4))
    def approve_again(self, data, mode, nth):
        self.approve(data, mode, nth)

    @rule(
        fund=st.sampled_from(["special", "society"]),
        need_index=st.integers(0, 4),
        amount=PAYMENT,
        who=st.integers(0, 5),
        mode=MODES,
        nth=st.integers(1, 3),
    )
    def request_more(self, fund, need_index, amount, who, mode, nth):
        self.request(fund, need_index, amount, who, mode, nth)

    @precondition(lambda self: any(d["approvers"] for d in self.open_disbursements()))
    @rule(data=st.data())
    def approve_twice(self, data):
        self.step()
        d = data.draw(st.sampled_from([d for d in self.open_disbursements() if d["approvers"]]))
        by = next(u for u in self.approvers(d["fund"]) if u.pk in d["approvers"])
        kwargs = {"disbursement": d["obj"], "by": by, "idempotency_key": f.key()}
        self.refuse("approve_twice", DuplicateApproval, disbursement_approve, kwargs)

    @precondition(lambda self: self.disbursements)
    @rule(data=st.data(), mode=MODES, nth=st.integers(1, 3))
    def reject(self, data, mode, nth):
        self.step(nth)
        d = data.draw(st.sampled_from(self.disbursements))
        candidates = [
            u
            for u in self.approvers(d["fund"])
            if u.pk != d["requester"].pk and u.pk not in d["approvers"]
        ]
        if not candidates:
            return
        by = data.draw(st.sampled_from(candidates))
        kwargs = {
            "disbursement": d["obj"],
            "by": by,
            "reason": "不符合救助条件",
            "idempotency_key": f.key(),
        }
        if d["status"] != "pending":
            return self.refuse("reject", InvalidState, disbursement_reject, kwargs)

        def effect(_disbursement):
            d["status"] = "rejected"
            d["approvers"].add(by.pk)
            if d["asset"] == Account.Kind.CASH:
                self.committed[d["need"].pk] -= d["amount"]

        self.apply("reject", "disbursement_reject", disbursement_reject, kwargs, mode, effect)

    @rule(
        emergency=st.integers(0, 1),
        amount=PAYMENT,
        who=st.integers(0, 3),
        mode=MODES,
        nth=st.integers(1, 4),
    )
    def reserve_advance(self, emergency, amount, who, mode, nth):
        self.step(nth)
        need = self.w.emergencies[emergency]
        by = self.w.users[Role.STREET_OFFICIAL] if who == 3 else self.w.officials[who]
        kwargs = {
            "need": need,
            "by": by,
            "amount": amount,
            "purpose": "突发火灾后基本生活救助",
            "idempotency_key": f.key(),
        }
        if self.committed[need.pk] + amount > need.amount:
            return self.refuse("reserve_advance", LedgerError, reserve_advance, kwargs, "over_need")
        if self.balance("reserve", Account.Kind.CASH) < amount:
            return self.refuse("reserve_advance", InsufficientFunds, reserve_advance, kwargs)

        def effect(disbursement):
            self.committed[need.pk] += amount
            self.move("reserve", {Account.Kind.CASH: -amount, Account.Kind.PAID_OUT: amount})
            self.disbursements.append(
                {
                    "pk": disbursement.pk,
                    "obj": disbursement,
                    "fund": "reserve",
                    "need": need,
                    "asset": Account.Kind.CASH,
                    "amount": amount,
                    "status": "paid",
                    "required": 2 if amount > THRESHOLD else 1,
                    "approvers": set(),
                    "requester": by,
                    "emergency": True,
                    "regularised": False,
                }
            )

        self.apply("reserve_advance", "reserve_advance", reserve_advance, kwargs, mode, effect)

    # --- transfers ----------------------------------------------------------------------

    @rule(
        route=st.sampled_from(
            [
                ("special", "reserve"),
                ("special", "reserve"),
                ("reserve", "special"),
                ("society", "special"),
                ("special", "society"),
            ]
        ),
        amount=st.one_of(PAYMENT, st.integers(1, 2_000_000).map(yuan)),
        who=st.integers(0, 2),
        mode=MODES,
        nth=st.integers(1, 3),
    )
    def transfer(self, route, amount, who, mode, nth):
        self.step(nth)
        source, target = route
        kwargs = {
            "source": self.w.funds[source],
            "target": self.w.funds[target],
            "amount": amount,
            "by": self.managers(source)[who % len(self.managers(source))],
            "memo": "补充备用金" if target == "reserve" else "基金间调拨",
            "idempotency_key": f.key(),
        }
        if self.balance(source, Account.Kind.CASH) < amount:
            return self.refuse("transfer", InsufficientFunds, fund_transfer, kwargs)

        def effect(_txn):
            self.move(source, {Account.Kind.CASH: -amount})
            self.move(target, {Account.Kind.CASH: amount})

        self.apply("transfer", "fund_transfer", fund_transfer, kwargs, mode, effect)

    # --- replays ------------------------------------------------------------------------

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def replay_same(self, data):
        self.step()
        call = data.draw(st.sampled_from(self.done))
        before = ledger_state()
        result = call["fn"](**call["kwargs"])
        assert result.pk == call["pk"], f"replay of {call['op']} returned another object"
        assert ledger_state() == before, f"replay of {call['op']} changed the ledger"
        COUNTS["replay.same_content"] += 1
        COUNTS[f"replay.same_content.{call['op']}"] += 1

    CHANGES = {
        "donation_record": lambda kw: (
            {"amount": kw["amount"] + CENT}
            if "amount" in kw
            else {"valuation": kw["valuation"] + CENT}
            if "valuation" in kw
            else {"service_description": kw["service_description"] + "（改）"}
        ),
        "donation_refund": lambda kw: {"reason": kw["reason"] + "（改）"},
        "disbursement_request": lambda kw: {"purpose": kw["purpose"] + "（改）"},
        "disbursement_approve": lambda kw: {"note": kw["note"] + "（改）"},
        "disbursement_reject": lambda kw: {"reason": kw["reason"] + "（改）"},
        "reserve_advance": lambda kw: {"amount": kw["amount"] + CENT},
        "fund_transfer": lambda kw: {"memo": kw["memo"] + "（改）"},
    }

    @precondition(lambda self: self.done)
    @rule(data=st.data(), other_kind=st.booleans())
    def replay_other_content(self, data, other_kind):
        self.step()
        call = data.draw(st.sampled_from(self.done))
        if other_kind:
            # The key of one operation sent with a transfer.
            fn = fund_transfer
            kwargs = {
                "source": self.w.funds["special"],
                "target": self.w.funds["reserve"],
                "amount": Decimal("1.00"),
                "by": self.w.officials[0],
                "memo": "补充备用金",
                "idempotency_key": call["kwargs"]["idempotency_key"],
            }
            if call["op"] == "fund_transfer":
                kwargs["memo"] = "另一笔调拨"
        else:
            fn = call["fn"]
            kwargs = {**call["kwargs"], **self.CHANGES[call["op"]](call["kwargs"])}
        self.refuse("replay_other_content", IdempotencyConflict, fn, kwargs)
        COUNTS[f"replay.other_content.{call['op']}"] += 1

    # --- bad input and wrong people -----------------------------------------------------

    @rule(
        where=st.sampled_from(["money", "goods", "request", "transfer", "advance"]), bad=BAD_AMOUNTS
    )
    def bad_amount(self, where, bad):
        self.step()
        w = self.w
        key = f.key()
        donation = {
            "fund": w.funds["special"],
            "by": w.officials[0],
            "idempotency_key": key,
            "donor_kind": Donation.DonorKind.ANONYMOUS,
        }
        fn, kwargs = {
            "money": (donation_record, {**donation, "kind": "money", "amount": bad}),
            "goods": (
                donation_record,
                {**donation, "kind": "goods", "item": "棉被", "quantity": 3, "valuation": bad},
            ),
            "request": (
                disbursement_request,
                {
                    "fund": w.funds["special"],
                    "need": w.needs[0],
                    "by": w.officials[1],
                    "kind": "funds",
                    "amount": bad,
                    "purpose": "临时救助",
                    "idempotency_key": key,
                },
            ),
            "transfer": (
                fund_transfer,
                {
                    "source": w.funds["special"],
                    "target": w.funds["reserve"],
                    "amount": bad,
                    "by": w.officials[0],
                    "memo": "调拨",
                    "idempotency_key": key,
                },
            ),
            "advance": (
                reserve_advance,
                {
                    "need": w.emergencies[0],
                    "by": w.officials[2],
                    "amount": bad,
                    "purpose": "急难救助",
                    "idempotency_key": key,
                },
            ),
        }[where]
        self.refuse("bad_amount", InvalidAmount, fn, kwargs)

    @rule(case=st.integers(0, 6), data=st.data())
    def wrong_person_or_place(self, case, data):
        self.step()
        w = self.w
        key = f.key()
        gift = {"idempotency_key": key, "kind": "money", "donor_kind": "anonymous", "amount": "10"}
        if case == 0:  # staff of another charity records a gift to 瑶海益家
            self.refuse(
                "not_permitted",
                NotPermitted,
                donation_record,
                {**gift, "fund": w.funds["special"], "by": w.outsider},
            )
        elif case == 1:  # the society's staff cannot move district money
            self.refuse(
                "not_permitted",
                NotPermitted,
                fund_transfer,
                {
                    "source": w.funds["special"],
                    "target": w.funds["society"],
                    "amount": "10",
                    "by": w.society_staff[0],
                    "memo": "调拨",
                    "idempotency_key": key,
                },
            )
        elif case == 2:  # a street official asks for a need of another street
            self.refuse(
                "not_permitted",
                NotPermitted,
                disbursement_request,
                {
                    "fund": w.funds["special"],
                    "need": w.needs[0],
                    "by": w.street_official2,
                    "kind": "funds",
                    "amount": "10",
                    "purpose": "救助",
                    "idempotency_key": key,
                },
            )
        elif case == 3:  # the reserve takes no gifts
            self.refuse(
                "reserve_refuses",
                LedgerError,
                donation_record,
                {**gift, "fund": w.funds["reserve"], "by": w.officials[0]},
                "reserve",
            )
        elif case == 4:  # only emergencies are paid from the reserve
            self.refuse(
                "not_emergency",
                LedgerError,
                reserve_advance,
                {
                    "need": w.needs[0],
                    "by": w.officials[0],
                    "amount": "10",
                    "purpose": "救助",
                    "idempotency_key": key,
                },
                "not_emergency",
            )
        elif case == 5 and self.open_disbursements():  # nobody approves their own request
            d = data.draw(st.sampled_from(self.open_disbursements()))
            self.refuse(
                "own_approval",
                NotPermitted,
                disbursement_approve,
                {"disbursement": d["obj"], "by": d["requester"], "idempotency_key": key},
            )
        elif case == 6:  # a goods gift needs a valuation
            self.refuse(
                "no_valuation",
                LedgerError,
                donation_record,
                {
                    **gift,
                    "kind": "goods",
                    "item": "棉被",
                    "quantity": 3,
                    "amount": None,
                    "fund": w.funds["special"],
                    "by": w.officials[0],
                },
                "valuation_required",
            )

    def step(self, nth: int = 1) -> None:
        self.nth_save = nth
        COUNTS["steps"] += 1

    # --- what must hold after every step ------------------------------------------------

    @invariant()
    def books_hold(self):
        lines: Counter = Counter()
        per_transaction: Counter = Counter()
        per_account: Counter = Counter()
        for transaction_id, account_id, amount in rows(POSTINGS_SQL):
            amount = cents(amount)
            assert amount != 0
            lines[transaction_id] += 1
            per_transaction[transaction_id] += amount
            per_account[account_id] += amount
        made_by: Counter = Counter()
        for pk, operation_id in rows(TRANSACTIONS_SQL):
            assert lines[pk] >= 2 and per_transaction[pk] == 0, f"transaction #{pk} unbalanced"
            if operation_id is not None:
                made_by[operation_id] += 1
        assert all(n == 1 for n in made_by.values()), "an operation posted twice"
        for pk, kind, balance in rows(BALANCES_SQL):
            balance = cents(balance)
            assert balance == per_account[pk], f"account #{pk} differs from its postings"
            assert balance == cents(self.expected[pk]), (
                f"account #{pk}: {balance} cents, the model says {self.expected[pk]}"
            )
            if kind in ASSETS:
                assert balance >= 0, f"asset account #{pk} below zero"
        results: Counter = Counter()
        for kind, result_id in rows(OPERATIONS_SQL):
            assert result_id is not None, f"an unfinished {kind} operation was kept"
            if kind in CREATING:
                results[(kind, result_id)] += 1
        assert all(n == 1 for n in results.values()), "one result claimed by two keys"
        counts = rows(STATE_SQL)[0]
        assert sum(1 for k, _r in results if k == "donation_record") == len(self.donations)
        assert counts[3] == len(self.donations)
        assert counts[5] == len(self.disbursements)
        assert ledger_verify().ok
        if connection.vendor == "postgresql":
            # Fire the deferred balance trigger now rather than at a commit that never comes.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        COUNTS["invariant_checks"] += 1


def write_report(figures: dict) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    existing[connection.vendor] = figures
    REPORT.write_text(json.dumps(existing, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def test_ledger_properties(ledger_world):
    COUNTS.clear()
    LedgerMachine.w = ledger_world
    started = time.monotonic()
    # Hypothesis decides how long each example runs; run again until the ledger has seen
    # at least MIN_STEPS operations (one round almost always suffices).
    for _round in range(4):
        run_state_machine_as_test(
            LedgerMachine,
            settings=hsettings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS_PER_EXAMPLE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
        if COUNTS["steps"] >= MIN_STEPS:
            break
    seconds = round(time.monotonic() - started, 1)
    figures = {
        "backend": connection.vendor,
        "seconds": seconds,
        "steps": COUNTS["steps"],
        "examples": COUNTS["examples"],
        "counts": dict(sorted(COUNTS.items())),
    }
    print("\nledger properties:", json.dumps(figures, ensure_ascii=False, indent=2))
    if os.environ.get("LEDGER_PROOF_REPORT"):
        write_report(figures)
    assert COUNTS["steps"] >= MIN_STEPS, f"only {COUNTS['steps']} steps ran"
    assert COUNTS["injected.after_return"] and COUNTS["injected.mid_service"]
    assert COUNTS["replay.same_content"] and COUNTS["refused.IdempotencyConflict"]
