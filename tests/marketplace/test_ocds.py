"""A tender as an OCDS 1.1 release package: the fields and codes of each stage (tender,
award, contract, implementation, cancellation), stable identifiers, +08:00 datetimes and
numeric amounts, a constant number of queries, and nothing of any bid before the close —
checked with bids present. Each release is validated against the OCDS 1.1.5 release schema
kept beside this file."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.models import (
    Award,
    Bid,
    Complaint,
    DeliveryRecord,
    Lot,
    Milestone,
    Role,
    Tender,
    TenderQuestion,
)
from marketplace.ocds import LOTS_EXTENSION, tender_release, tender_release_package
from tests import procurement as P

pytestmark = pytest.mark.django_db

SCHEMA = Path(__file__).parent / "data" / "ocds-release-schema-1.1.5.json"
ISO_LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


def validate(release: dict) -> None:
    """Validate against the OCDS 1.1.5 release schema (draft 4), formats included."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(release), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def datetimes(value, key=""):
    """Every value of a field whose name says it is a date or time."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from datetimes(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from datetimes(v, key)
    elif key.endswith(("Date", "date", "dateSigned", "dateMet")) or key == "date":
        yield value


def sealed_bid(lot: Lot, org) -> Bid:
    now = timezone.now()
    return Bid.objects.create(
        lot=lot,
        agency=org,
        submitted_by=org.staff_user,
        submitted_at=now - timedelta(hours=1),
        revised_at=now - timedelta(hours=1),
        sealed="gAAAAABsealedciphertext",
    )


def opened(tender: Tender) -> Tender:
    tender.status = Tender.Status.OPENED
    tender.opened_at = timezone.now()
    tender.save(update_fields=["status", "opened_at"])
    return tender


def test_package_in_the_tender_stage(world, settings):
    tender = P.tender(world, state="bidding", lots=2)
    asker = P.agency(world.street)
    TenderQuestion.objects.create(
        tender=tender, organisation=asker, asked_by=asker.staff_user, question="问题？"
    )
    package = tender_release_package(tender=tender, uri="https://example.test/ocds/")
    assert package["uri"] == "https://example.test/ocds/"
    assert package["version"] == "1.1"
    assert package["publisher"] == {"name": "瑶海区民政局"}
    assert package["extensions"] == [LOTS_EXTENSION]
    assert ISO_LOCAL.match(package["publishedDate"])
    [release] = package["releases"]
    validate(release)
    ocid = f"{settings.OCDS_PREFIX}-{tender.reference}"
    assert release["ocid"] == ocid
    assert release["id"].startswith(f"{ocid}-tender-") and "#" not in release["id"]
    assert release["tag"] == ["tender"]
    assert release["initiationType"] == "tender"
    assert release["language"] == "zh"
    buyer = f"YHORG-{world.civil_affairs.pk}"
    assert release["buyer"] == {"id": buyer, "name": "瑶海区民政局"}
    assert release["parties"] == [
        {"id": buyer, "name": "瑶海区民政局", "roles": ["buyer", "procuringEntity"]}
    ]
    t = release["tender"]
    assert t["id"] == tender.reference and t["title"] == tender.title
    assert t["status"] == "active"
    assert t["procurementMethod"] == "open"
    assert t["procurementMethodDetails"] == "公开招标"
    assert t["mainProcurementCategory"] == "services"
    assert t["awardCriteria"] == "ratedCriteria"
    assert "投标报价（价格）40%" in t["awardCriteriaDetails"]
    assert "服务方案（服务方案）30%" in t["awardCriteriaDetails"]
    assert t["hasEnquiries"] is True
    assert t["value"] == {"amount": 80000.0, "currency": "CNY"}
    lot = tender.lots.order_by("number").first()
    item = lot.catalogue_item
    assert t["items"][0] == {
        "id": "LOT-1-1",
        "description": item.name,
        "classification": {"scheme": "YHMZ-CATALOGUE", "id": item.code, "description": item.name},
        "quantity": 500,
        "unit": {"id": "visit", "name": "人次", "value": {"amount": 80.0, "currency": "CNY"}},
        "deliveryAddress": {"region": world.street.name},
        "relatedLot": "LOT-1",
    }
    assert [(x["id"], x["status"]) for x in t["lots"]] == [("LOT-1", "active"), ("LOT-2", "active")]
    assert t["lots"][0]["value"] == {"amount": 40000.0, "currency": "CNY"}
    assert t["tenderPeriod"]["endDate"] == timezone.localtime(tender.bid_closes_at).isoformat(
        timespec="seconds"
    )
    assert t["enquiryPeriod"]["endDate"].endswith("+08:00")
    assert all(ISO_LOCAL.match(v) for v in datetimes(release))


def test_before_the_close_nothing_of_any_bid_is_in_the_release(world):
    tender = P.tender(world, state="bidding")
    lot = tender.lots.get()
    bidders = [P.agency(world.street, name=n) for n in ("甲社工服务中心", "乙社工服务中心")]
    for org in bidders:
        sealed_bid(lot, org)
    release = tender_release(tender=tender)
    validate(release)
    text = json.dumps(release, ensure_ascii=False)
    for org in bidders:
        assert org.name not in text and f"YHORG-{org.pk}" not in text
    assert "numberOfTenderers" not in release["tender"]
    assert "tenderers" not in release["tender"]
    assert "awards" not in release and "contracts" not in release
    assert [p["roles"] for p in release["parties"]] == [["buyer", "procuringEntity"]]


def test_after_the_close_the_bidders_are_tenderers(world):
    tender = P.tender(world, state="closed", lots=2)
    lot1, lot2 = tender.lots.order_by("number")
    a, b = P.agency(world.street, name="甲社工"), P.agency(world.street, name="乙社工")
    sealed_bid(lot1, a)
    sealed_bid(lot2, a)
    withdrawn = sealed_bid(lot1, b)
    withdrawn.status = Bid.Status.WITHDRAWN
    withdrawn.save(update_fields=["status"])
    release = tender_release(tender=tender)
    validate(release)
    assert release["tender"]["numberOfTenderers"] == 1
    assert release["tender"]["tenderers"] == [{"id": f"YHORG-{a.pk}", "name": "甲社工"}]
    assert {"id": f"YHORG-{a.pk}", "name": "甲社工", "roles": ["tenderer"]} in release["parties"]
    assert "乙社工" not in json.dumps(release, ensure_ascii=False)
    # A bid's content never enters the release, even once opened.
    assert "sealed" not in json.dumps(release)


def test_award_stage_pending_then_active_with_supplier(world):
    tender = opened(P.tender(world, state="closed"))
    lot = tender.lots.get()
    winner, runner = P.agency(world.street, name="甲社工"), P.agency(world.street, name="乙社工")
    bid = P.opened_bid(lot, winner, price=Decimal("36000.50"))
    P.opened_bid(lot, runner, price=Decimal("38000"))
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    award = P.award(lot, bid, official, final=False)
    release = tender_release(tender=tender)
    validate(release)
    assert release["tag"] == ["award"]
    assert "-award-" in release["id"]
    [data] = release["awards"]
    assert data == {
        "id": f"AWD-{award.pk}",
        "title": str(lot),
        "status": "pending",
        "date": timezone.localtime(award.decided_at).isoformat(timespec="seconds"),
        "value": {"amount": 36000.5, "currency": "CNY"},
        "suppliers": [{"id": f"YHORG-{winner.pk}", "name": "甲社工"}],
        "relatedLots": ["LOT-1"],
    }
    parties = {p["id"]: p["roles"] for p in release["parties"]}
    assert parties[f"YHORG-{winner.pk}"] == ["tenderer", "supplier"]
    assert parties[f"YHORG-{runner.pk}"] == ["tenderer"]
    assert release["tender"]["status"] == "complete"  # every lot decided
    assert release["tender"]["lots"][0]["status"] == "complete"
    # 38000 was the losing price: prices other than the award value are not published.
    assert "38000" not in json.dumps(release)

    award.status = Award.Status.FINAL
    award.save(update_fields=["status"])
    assert tender_release(tender=tender)["awards"][0]["status"] == "active"


def test_a_cancelled_award_after_an_upheld_complaint_stays_on_record(world):
    tender = opened(P.tender(world, state="closed"))
    lot = tender.lots.get()
    first, second = P.agency(world.street, name="甲社工"), P.agency(world.street, name="乙社工")
    bid1 = P.opened_bid(lot, first, price=Decimal("36000"))
    bid2 = P.opened_bid(lot, second, price=Decimal("37000"))
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    cancelled = P.award(lot, bid1, official, final=False)
    Complaint.objects.create(
        award=cancelled,
        organisation=second,
        lodged_by=second.staff_user,
        grounds="资格不符。",
        status=Complaint.Status.UPHELD,
        response="质疑成立。",
    )
    cancelled.status = Award.Status.CANCELLED
    cancelled.cancelled_reason = "质疑成立，撤销中标。"
    cancelled.save(update_fields=["status", "cancelled_reason"])
    P.award(lot, bid2, official, final=False)
    release = tender_release(tender=tender)
    validate(release)
    statuses = [(a["suppliers"][0]["name"], a["status"]) for a in release["awards"]]
    assert statuses == [("甲社工", "cancelled"), ("乙社工", "pending")]
    assert release["awards"][0]["statusDetails"] == "质疑成立，撤销中标。"
    parties = {p["name"]: p["roles"] for p in release["parties"]}
    assert parties["甲社工"] == ["tenderer"] and parties["乙社工"] == ["tenderer", "supplier"]


def test_contract_then_implementation_stage(world):
    tender = opened(P.tender(world, state="closed", quantity=600))
    lot = tender.lots.get()
    agency = P.agency(world.street, name="甲社工")
    contract = P.contract(world, lot, agency)
    release = tender_release(tender=tender)
    validate(release)
    assert release["tag"] == ["contract"]
    [data] = release["contracts"]
    assert data["id"] == f"CON-{contract.pk}"
    assert data["awardID"] == f"AWD-{contract.award_id}"
    assert data["title"] == contract.number
    assert data["status"] == "active"
    assert data["value"] == {"amount": 36000.0, "currency": "CNY"}
    assert data["period"]["startDate"] == f"{contract.starts_on.isoformat()}T00:00:00+08:00"
    assert data["period"]["endDate"] == f"{contract.ends_on.isoformat()}T23:59:59+08:00"
    assert ISO_LOCAL.match(data["dateSigned"])
    first, second = data["milestones"]
    assert first["type"] == "delivery" and first["status"] == "scheduled"
    assert "目标 300 人次" in first["description"] and "已交付 0 人次" in first["description"]
    assert first["value"] == {"amount": 18000.0, "currency": "CNY"}

    milestone = contract.milestones.order_by("position").first()
    DeliveryRecord.objects.create(
        milestone=milestone,
        units=Decimal("120.5"),
        delivered_on=timezone.localdate(),
        source=DeliveryRecord.Source.AGENCY,
        description="上门探访",
        entered_by=agency.staff_user,
    )
    milestone.status = Milestone.Status.ACCEPTED
    milestone.decided_at = timezone.now()
    milestone.save(update_fields=["status", "decided_at"])
    later = contract.milestones.order_by("position").last()
    later.status = Milestone.Status.REJECTED
    later.save(update_fields=["status"])
    release = tender_release(tender=tender)
    validate(release)
    assert release["tag"] == ["implementation"]
    first, second = release["contracts"][0]["milestones"]
    assert first["status"] == "met" and ISO_LOCAL.match(first["dateMet"])
    assert "已交付 120.5 人次" in first["description"]
    assert second["status"] == "notMet"


def test_cancelled_and_unsuccessful_tenders(world):
    cancelled = P.tender(world, state="bidding")
    cancelled.status = Tender.Status.CANCELLED
    cancelled.cancelled_reason = "预算调整。"
    cancelled.save(update_fields=["status", "cancelled_reason"])
    release = tender_release(tender=cancelled)
    validate(release)
    assert release["tag"] == ["tenderCancellation"]
    assert release["tender"]["status"] == "cancelled"
    assert release["tender"]["statusDetails"] == "已终止：预算调整。"
    assert release["tender"]["lots"][0]["status"] == "cancelled"

    failed = opened(P.tender(world, state="closed"))
    failed.lots.update(status=Lot.Status.FAILED)
    release = tender_release(tender=failed)
    validate(release)
    assert release["tender"]["status"] == "unsuccessful"
    assert release["tender"]["numberOfTenderers"] == 0
    assert release["tender"]["lots"][0]["status"] == "unsuccessful"


def test_drafts_have_no_release(world):
    from django.http import Http404

    with pytest.raises(Http404):
        tender_release(tender=P.tender(world, state="draft"))


def test_release_is_built_in_a_constant_number_of_queries(world):
    def build(n: int) -> Tender:
        tender = opened(P.tender(world, state="closed", lots=2))
        lot1, lot2 = tender.lots.order_by("number")
        agencies = [P.agency(world.street) for _ in range(n)]
        for org in agencies:
            P.opened_bid(lot1, org, price=Decimal("30000"))
        official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
        P.award(lot1, lot1.bids.first(), official)
        contract = P.contract(world, lot2, P.agency(world.street2))
        for milestone in contract.milestones.all():
            DeliveryRecord.objects.create(
                milestone=milestone,
                units=Decimal("10"),
                delivered_on=timezone.localdate(),
                source=DeliveryRecord.Source.AGENCY,
                description="上门探访",
                entered_by=official,
            )
        return Tender.objects.select_related("buyer").get(pk=tender.pk)

    counts = []
    for n in (2, 6):
        tender = build(n)
        with CaptureQueriesContext(connection) as ctx:
            release = tender_release(tender=tender)
        counts.append(len(ctx.captured_queries))
        assert release["tender"]["numberOfTenderers"] == n + 1
    assert counts[0] == counts[1] <= 9


def test_the_schema_check_is_not_vacuous(world):
    release = tender_release(tender=P.tender(world, state="bidding"))
    release["tender"]["status"] = "open"  # not in the closed tenderStatus codelist
    del release["initiationType"]
    with pytest.raises(AssertionError) as failure:
        validate(release)
    assert "'open' is not one of" in str(failure.value)
    assert "'initiationType' is a required property" in str(failure.value)
