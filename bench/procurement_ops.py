"""Purchasing at scale: sealed bids, opening, ranking, the evaluation page, the public notice,
the OCDS release and drawing a review sample, timed through the real services and pages.

    .venv/bin/python bench/procurement_ops.py                       # 40 bids per lot, SQLite
    .venv/bin/python bench/procurement_ops.py --bids 100 --lots 4 --evaluators 5
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pops .venv/bin/python bench/procurement_ops.py

Prepares a throwaway database (a fresh SQLite file unless DATABASE_URL is given; it is
migrated, so use an empty one) with one tender of `--lots` lots; `--bids` agencies submit a
sealed bid (with a plan file) on every lot; the window closes and `tender_open` decrypts them
all; every bid is qualified and `--evaluators` evaluators score every bid on three criteria.
Then it times, over `--repeat` runs each: `lot_ranking` of one lot, the evaluation page and
the public notice (through Django's test client, with their query counts), the OCDS release
package, and `review_draw` over `--records` delivery records. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.mkdtemp())

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

DECLARED = {"info_true": True, "no_collusion": True, "no_debarment": True}


def _world():
    from types import SimpleNamespace

    from marketplace.models import Area, Organisation, Role
    from tests import factories as f

    L, K, OK = Area.Level, Area.Kind, Organisation.Kind
    district = f.area("瑶海区", L.DISTRICT, K.DISTRICT)
    streets = [f.area(f"街道{i}", L.STREET, K.SUBDISTRICT, district) for i in range(1, 3)]
    civil = f.organisation("瑶海区民政局", OK.CIVIL_AFFAIRS, district)
    official = f.user("minzheng", Role.CIVIL_AFFAIRS_OFFICIAL, civil)
    return SimpleNamespace(
        street=streets[0],
        street2=streets[1],
        civil_affairs=civil,
        users={Role.CIVIL_AFFAIRS_OFFICIAL: official},
        official=official,
    )


def prepare(args):
    from marketplace.models import Criterion, EvaluatorAssignment, Lot, Tender
    from marketplace.services.evaluation import bid_qualify, score_sheet_save
    from marketplace.services.tenders import bid_submit, tender_open
    from tests import procurement as p

    call_command("migrate", verbosity=0)
    world = _world()
    tender = p.tender(world, state="bidding", lots=1, budget=Decimal("90000"))
    item = tender.lots.get().catalogue_item
    for number in range(2, args.lots + 1):
        Lot.objects.create(
            tender=tender,
            number=number,
            title=f"标段{number}",
            street=world.street2,
            catalogue_item=item,
            quantity=500,
            budget=Decimal("90000"),
        )
    agencies = [p.agency(world.street, f"机构{i:03d}") for i in range(args.bids)]
    started = time.perf_counter()
    for lot in tender.lots.all():
        for i, agency in enumerate(agencies):
            bid_submit(
                lot=lot,
                by=agency.staff_user,
                agency=agency,
                price=Decimal("60000") + i,
                plan=p.plan_upload(),
                team=agency.worker_users,
                declarations=DECLARED,
            )
    submit_s = time.perf_counter() - started
    Tender.objects.filter(pk=tender.pk).update(
        enquiry_ends_at=timezone.now() - timedelta(hours=1),
        bid_closes_at=timezone.now() - timedelta(seconds=1),
    )
    started = time.perf_counter()
    tender = tender_open(tender=Tender.objects.get(pk=tender.pk), by=world.official)
    open_s = time.perf_counter() - started
    bids = list(tender.lots.first().bids.all())
    for lot in tender.lots.all():
        for bid in lot.bids.all():
            bid_qualify(bid=bid, by=world.official, passed=True, reason="")
    criteria = list(Criterion.objects.filter(tender=tender).exclude(kind="price"))
    for n in range(args.evaluators):
        expert = p.evaluator(f"expert{n}")
        assignment = EvaluatorAssignment.objects.create(
            tender=tender,
            evaluator=expert,
            assigned_by=world.official,
            declaration=EvaluatorAssignment.Declaration.NO_CONFLICT,
            declared_at=timezone.now(),
        )
        for lot in tender.lots.all():
            for bid in lot.bids.all():
                score_sheet_save(
                    assignment=assignment,
                    by=expert,
                    bid=bid,
                    scores={c.pk: Decimal(60 + (bid.pk + c.pk + n) % 40) for c in criteria},
                )
    total = args.lots * args.bids
    print(f"sealed bids submitted: {total} in {submit_s:.2f} s ({total / submit_s:.0f}/s)")
    print(f"tender_open decrypting {total} bids: {open_s * 1000:.0f} ms")
    return world, tender, bids


def _timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def _page(client, url, repeat, label):
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    # A wrapper, not the query log: each request clears the log when it starts.
    with connection.execute_wrapper(count):
        status = client.get(url).status_code
    assert status == 200, (url, status)
    p50, p95 = _timed(lambda: client.get(url), repeat)
    print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {len(executed)} queries")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=2)
    parser.add_argument("--bids", type=int, default=40)
    parser.add_argument("--evaluators", type=int, default=3)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(
        f"database: {connection.vendor}; {args.lots} lots × {args.bids} bids, "
        f"{args.evaluators} evaluators"
    )
    world, tender, _bids = prepare(args)

    from marketplace.models import Award, Contract, DeliveryRecord, Milestone
    from marketplace.ocds import tender_release_package
    from marketplace.selectors.evaluation import lot_ranking
    from marketplace.services.contracts import review_draw
    from marketplace.services.evaluation import award_decide

    lot = tender.lots.first()
    with CaptureQueriesContext(connection) as queries:
        ranking = lot_ranking(lot=lot)
    assert ranking.complete and len(ranking.rows) == args.bids
    p50, p95 = _timed(lambda: lot_ranking(lot=lot), args.repeat)
    print(
        f"lot_ranking ({args.bids} bids): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"{len(queries)} queries"
    )

    client = Client()
    client.force_login(world.official)
    _page(client, f"/purchasing/evaluation/tenders/{tender.pk}/", args.repeat, "evaluation page")

    award = award_decide(lot=lot, by=world.official)
    Award.objects.filter(pk=award.pk).update(
        status=Award.Status.FINAL, standstill_ends_at=timezone.now()
    )
    from tests import procurement as p

    anonymous = Client()
    index = "/procurement/"
    assert anonymous.get(index).status_code == 200
    _page(anonymous, f"{index}tenders/{tender.pk}/", args.repeat, "public notice")
    p50, p95 = _timed(
        lambda: tender_release_package(tender=tender, uri="https://example.test/ocds"),
        args.repeat,
    )
    print(f"OCDS release package: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    contracted = p.tender(world, state="closed")
    contract = p.contract(world, contracted.lots.get(), p.agency(world.street, "承接机构"))
    milestone = Milestone.objects.filter(contract=contract).first()
    today = timezone.localdate()
    DeliveryRecord.objects.bulk_create(
        DeliveryRecord(
            milestone=milestone,
            units=Decimal("1"),
            delivered_on=today - timedelta(days=i % 50),
            source=DeliveryRecord.Source.AGENCY,
            description="上门服务",
            entered_by=world.official,
        )
        for i in range(args.records)
    )
    started = time.perf_counter()
    review = review_draw(
        contract=Contract.objects.get(pk=contract.pk), by=world.official, kind="midterm"
    )
    draw_ms = (time.perf_counter() - started) * 1000
    print(
        f"review_draw over {args.records} records: {review.samples.count()} drawn "
        f"in {draw_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
