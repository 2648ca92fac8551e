"""Ledger throughput: N random operations through the real services, then the audit.

    .venv/bin/python bench/ledger_ops.py                          # 2000 operations, SQLite
    .venv/bin/python bench/ledger_ops.py --ops 20000 --seed 7
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_ops .venv/bin/python bench/ledger_ops.py

Prepares a throwaway database (a fresh SQLite file unless DATABASE_URL is given; it is
migrated, so use an empty one), the district's special fund and reserve with two officials
and a street official, and money needs. Then runs a random mix of donations, refunds,
requests, approvals, rejections, emergency payments from the reserve and transfers, each
with a fresh idempotency key, one at a time. Prints operations per second (applied and
refused separately) and the figures of `ledger_verify` with the time it took.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def prepare():
    from django.utils import timezone

    from charity.models import Fund
    from marketplace.models import Area, AssistanceStandard, Need, Organisation, Role
    from tests import factories as f

    call_command("migrate", verbosity=0)
    L, K, OK = Area.Level, Area.Kind, Organisation.Kind
    district = f.area("瑶海区", L.DISTRICT, K.DISTRICT)
    street = f.area("明光路街道", L.STREET, K.SUBDISTRICT, district)
    community = f.area("明光路社区", L.COMMUNITY, K.COMMUNITY, street)
    AssistanceStandard.objects.create(
        year=timezone.localdate().year, area=district, dibao_monthly=800
    )
    civil = f.organisation("瑶海区民政局", OK.CIVIL_AFFAIRS, district)
    office = f.organisation("明光路街道办事处", OK.STREET_OFFICE, street)
    community_office = f.organisation("明光路社区居委会", OK.COMMUNITY, community)
    world = type("World", (), {})()
    world.community = community
    world.users = {
        Role.CIVIL_AFFAIRS_OFFICIAL: f.user("minzheng", Role.CIVIL_AFFAIRS_OFFICIAL, civil),
        Role.COMMUNITY_WORKER: f.user("shequ", Role.COMMUNITY_WORKER, community_office),
    }
    world.officials = [
        world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
        f.user("minzheng2", Role.CIVIL_AFFAIRS_OFFICIAL, civil),
    ]
    world.street_official = f.user("jiedao", Role.STREET_OFFICIAL, office)
    world.special = f.fund(civil, Fund.Kind.SPECIAL, code="yaohai-yijia")
    world.reserve = f.fund(civil, Fund.Kind.RESERVE, code="reserve")
    world.needs = [f.money_need(world, "1000000.00") for _ in range(3)]
    world.emergency = f.money_need(world, "1000000.00", urgency=Need.Urgency.EMERGENCY)
    return world


def run(world, ops: int, rng: random.Random) -> tuple[Counter, float]:
    from charity.exceptions import DomainError
    from charity.services.disbursements import (
        disbursement_approve,
        disbursement_reject,
        disbursement_request,
        reserve_advance,
    )
    from charity.services.donations import donation_record, donation_refund
    from charity.services.ledger import fund_transfer

    donations, pending = [], []
    counts: Counter = Counter()

    def amount(high: int) -> str:
        return f"{rng.randint(100, high * 100) / 100:.2f}"

    def key() -> str:
        return uuid.uuid4().hex

    official = world.officials[0]
    choices = (
        ["donate"] * 3
        + ["request"] * 2
        + ["approve"] * 2
        + [
            "refund",
            "reject",
            "advance",
            "transfer",
        ]
    )
    started = time.perf_counter()
    for _ in range(ops):
        op = rng.choice(choices)
        try:
            if op == "donate":
                donations.append(
                    donation_record(
                        fund=world.special,
                        by=official,
                        idempotency_key=key(),
                        kind="money",
                        donor_kind="anonymous",
                        amount=amount(20000),
                    )
                )
            elif op == "refund" and donations:
                donation_refund(
                    donation=donations.pop(rng.randrange(len(donations))),
                    by=official,
                    reason="退还",
                    idempotency_key=key(),
                )
            elif op == "request":
                pending.append(
                    disbursement_request(
                        fund=world.special,
                        need=rng.choice(world.needs),
                        by=world.street_official,
                        kind="funds",
                        amount=amount(8000),
                        purpose="临时救助",
                        idempotency_key=key(),
                    )
                )
            elif op in ("approve", "reject") and pending:
                d = pending[rng.randrange(len(pending))]
                by = rng.choice(world.officials)
                if op == "approve":
                    d = disbursement_approve(disbursement=d, by=by, idempotency_key=key())
                    if d.status != "pending":
                        pending.remove(d)
                else:
                    pending.remove(d)
                    disbursement_reject(
                        disbursement=d, by=by, reason="不符合条件", idempotency_key=key()
                    )
            elif op == "advance":
                reserve_advance(
                    need=world.emergency,
                    by=world.street_official,
                    amount=amount(3000),
                    purpose="急难救助",
                    idempotency_key=key(),
                )
            elif op == "transfer":
                fund_transfer(
                    source=world.special,
                    target=world.reserve,
                    amount=amount(10000),
                    by=official,
                    memo="补充备用金",
                    idempotency_key=key(),
                )
            else:
                counts["skipped"] += 1
                continue
            counts[f"applied.{op}"] += 1
            counts["applied"] += 1
        except DomainError as exc:
            counts[f"refused.{exc.code}"] += 1
            counts["refused"] += 1
            if op == "approve" and exc.code in ("duplicate_approval", "invalid_state"):
                pending.remove(d)
    return counts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from charity.selectors.audit import ledger_verify

    world = prepare()
    counts, elapsed = run(world, args.ops, random.Random(args.seed))  # noqa: S311 - a reproducible mix, not a secret
    done = counts["applied"] + counts["refused"]
    print(f"database={connection.vendor} operations={done} in {elapsed:.1f} s")
    print(f"ops/s={done / elapsed:.0f} (applied {counts['applied']}, refused {counts['refused']})")
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    started = time.perf_counter()
    report = ledger_verify()
    took = (time.perf_counter() - started) * 1000
    print(
        f"ledger_verify: ok={report.ok} funds={report.funds} accounts={report.accounts} "
        f"transactions={report.transactions} postings={report.postings} "
        f"unbalanced={len(report.unbalanced_transactions)} "
        f"mismatched={len(report.balance_mismatches)} "
        f"negative={len(report.negative_assets)} repeated={len(report.repeated_operations)} "
        f"in {took:.0f} ms"
    )
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
