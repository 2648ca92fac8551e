"""A tender as an Open Contracting Data Standard (OCDS 1.1) release, and the release package
published at the tender's public URL. Built only from `selectors.procurement_public`, so it
says no more than the public pages: before the bid window closes it holds nothing of any
bid (not even how many there are); afterwards the bidders, then awards and contracts.

Identifiers are stable: the ocid is the publisher's prefix and the tender reference, parties
are "YHORG-<organisation id>", lots "LOT-<number>", awards "AWD-<id>", contracts
"CON-<id>", milestones "MS-<id>". Datetimes are ISO 8601 in Asia/Shanghai (+08:00) and
amounts are JSON numbers in CNY."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from marketplace.models import Award, Contract, Lot, Milestone, Tender
from marketplace.selectors.procurement_public import TenderDisclosure, tender_disclosure_public

__all__ = ["LOTS_EXTENSION", "tender_release", "tender_release_package"]

OCDS_VERSION = "1.1"
LOTS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_lots_extension/v1.1.5/extension.json"
)
CURRENCY = "CNY"
CATALOGUE_SCHEME = "YHMZ-CATALOGUE"

AWARD_STATUS = {
    Award.Status.STANDSTILL: "pending",
    Award.Status.FINAL: "active",
    Award.Status.CANCELLED: "cancelled",
}
# A completed contract has come to its end: OCDS calls that "terminated" too.
CONTRACT_STATUS = {
    Contract.Status.ACTIVE: "active",
    Contract.Status.COMPLETED: "terminated",
    Contract.Status.TERMINATED: "terminated",
}
MILESTONE_STATUS = {
    Milestone.Status.OPEN: "scheduled",
    Milestone.Status.SUBMITTED: "scheduled",
    Milestone.Status.ACCEPTED: "met",
    Milestone.Status.REJECTED: "notMet",
}
LOT_STATUS = {
    Lot.Status.OPEN: "active",
    Lot.Status.AWARDED: "complete",
    Lot.Status.CONTRACTED: "complete",
    Lot.Status.FAILED: "unsuccessful",
}


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def _day(value: date, *, end: bool = False) -> str:
    """A date as the start (or end) of that day in local time: OCDS periods are datetimes."""
    moment = datetime.combine(value, time(23, 59, 59) if end else time(0, 0))
    return _when(timezone.make_aware(moment))


def _amount(value: Decimal | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"amount": float(value), "currency": CURRENCY}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def party_id(organisation_id: int) -> str:
    return f"YHORG-{organisation_id}"


def lot_id(lot: Lot) -> str:
    return f"LOT-{lot.number}"


def ocid(tender: Tender) -> str:
    return f"{settings.OCDS_PREFIX}-{tender.reference}"


def _tag(disclosure: TenderDisclosure) -> list[str]:
    """The latest stage the process has reached."""
    contracts = disclosure.contracts
    if any(m.last_delivery or m.decided_at for c in contracts for m in c.milestones.all()):
        return ["implementation"]
    if contracts:
        return ["contract"]
    if disclosure.awards:
        return ["award"]
    if disclosure.tender.status == Tender.Status.CANCELLED:
        return ["tenderCancellation"]
    return ["tender"]


def _tender_status(disclosure: TenderDisclosure) -> str:
    tender = disclosure.tender
    lots = [r.lot for r in disclosure.lots]
    if tender.status == Tender.Status.CANCELLED:
        return "cancelled"
    if lots and all(lot.status == Lot.Status.FAILED for lot in lots):
        return "unsuccessful"
    if tender.status == Tender.Status.COMPLETE or (
        lots and all(lot.status != Lot.Status.OPEN for lot in lots)
    ):
        return "complete"
    return "active"


def _lot_status(tender: Tender, lot: Lot) -> str:
    if tender.status == Tender.Status.CANCELLED and lot.status == Lot.Status.OPEN:
        return "cancelled"
    return LOT_STATUS[lot.status]


def _parties(disclosure: TenderDisclosure) -> list[dict[str, Any]]:
    buyer = disclosure.tender.buyer
    parties: dict[int, dict[str, Any]] = {
        buyer.pk: {
            "id": party_id(buyer.pk),
            "name": buyer.name,
            "roles": ["buyer", "procuringEntity"],
        }
    }
    for bidder in disclosure.tenderers or []:
        parties.setdefault(
            bidder.id, {"id": party_id(bidder.id), "name": bidder.name, "roles": []}
        )["roles"].append("tenderer")
    for award in disclosure.awards:
        agency = award.bid.agency
        party = parties.setdefault(
            agency.pk, {"id": party_id(agency.pk), "name": agency.name, "roles": []}
        )
        if "supplier" not in party["roles"] and award.status != Award.Status.CANCELLED:
            party["roles"].append("supplier")
    return [p for p in parties.values() if p["roles"]]


def _items(disclosure: TenderDisclosure) -> list[dict[str, Any]]:
    items = []
    for result in disclosure.lots:
        lot, item = result.lot, result.lot.catalogue_item
        items.append(
            {
                "id": f"{lot_id(lot)}-1",
                "description": item.name,
                "classification": {
                    "scheme": CATALOGUE_SCHEME,
                    "id": item.code,
                    "description": item.name,
                },
                "quantity": lot.quantity,
                "unit": {
                    "id": item.unit,
                    "name": str(item.get_unit_display()),
                    "value": _amount(item.guidance_price),
                },
                "deliveryAddress": {"region": lot.street.name},
                "relatedLot": lot_id(lot),
            }
        )
    return items


def _tender(disclosure: TenderDisclosure) -> dict[str, Any]:
    tender = disclosure.tender
    buyer = {"id": party_id(tender.buyer_id), "name": tender.buyer.name}
    data: dict[str, Any] = {
        "id": tender.reference,
        "title": tender.title,
        "description": tender.scope,
        "status": _tender_status(disclosure),
        "statusDetails": str(tender.get_status_display()),
        "procuringEntity": buyer,
        "items": _items(disclosure),
        "value": _amount(disclosure.budget),
        "procurementMethod": "open",
        "procurementMethodDetails": "公开招标",
        "mainProcurementCategory": "services",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": "；".join(
            f"{c.name}（{c.get_kind_display()}）{c.weight}%" for c in disclosure.criteria
        ),
        "submissionMethod": ["electronicSubmission"],
        "eligibilityCriteria": tender.qualification_requirements,
        "tenderPeriod": {
            "startDate": _when(tender.bid_opens_at),
            "endDate": _when(tender.bid_closes_at),
        },
        "enquiryPeriod": {
            "startDate": _when(tender.published_at),
            "endDate": _when(tender.enquiry_ends_at),
        },
        "hasEnquiries": disclosure.question_count > 0,
        "lots": [
            {
                "id": lot_id(r.lot),
                "title": r.lot.title,
                "description": r.lot.street.name,
                "value": _amount(r.lot.budget),
                "status": _lot_status(tender, r.lot),
            }
            for r in disclosure.lots
        ],
    }
    if tender.status == Tender.Status.CANCELLED and tender.cancelled_reason:
        data["statusDetails"] = f"{data['statusDetails']}：{tender.cancelled_reason}"
    # Who bid, and how many, is public only once the window has closed.
    if disclosure.closed and disclosure.tenderers is not None:
        data["numberOfTenderers"] = len(disclosure.tenderers)
        data["tenderers"] = [{"id": party_id(b.id), "name": b.name} for b in disclosure.tenderers]
    return data


def _award(award: Award) -> dict[str, Any]:
    agency = award.bid.agency
    return {
        "id": f"AWD-{award.pk}",
        "title": str(award.lot),
        "status": AWARD_STATUS[award.status],
        "date": _when(award.decided_at),
        "value": _amount(award.value),
        "suppliers": [{"id": party_id(agency.pk), "name": agency.name}],
        "relatedLots": [f"LOT-{award.lot.number}"],
    } | (
        {"statusDetails": award.cancelled_reason}
        if award.status == Award.Status.CANCELLED and award.cancelled_reason
        else {}
    )


def _milestone(milestone: Milestone) -> dict[str, Any]:
    unit = str(milestone.get_unit_display())
    data = {
        "id": f"MS-{milestone.pk}",
        "title": milestone.title,
        "type": "delivery",
        "description": (
            f"{milestone.street.name}：目标 {milestone.units_target} {unit}，"
            f"已交付 {_number(milestone.delivered)} {unit}"
        ),
        "dueDate": _day(milestone.due_on, end=True),
        "status": MILESTONE_STATUS[milestone.status],
        "value": _amount(milestone.payment),
    }
    if milestone.status == Milestone.Status.ACCEPTED and milestone.decided_at:
        data["dateMet"] = _when(milestone.decided_at)
    return data


def _contract(contract: Contract) -> dict[str, Any]:
    return {
        "id": f"CON-{contract.pk}",
        "awardID": f"AWD-{contract.award_id}",
        "title": contract.number,
        "status": CONTRACT_STATUS[contract.status],
        "value": _amount(contract.value),
        "period": {
            "startDate": _day(contract.starts_on),
            "endDate": _day(contract.ends_on, end=True),
        },
        "dateSigned": _when(contract.signed_at),
        "milestones": [_milestone(m) for m in contract.milestones.all()],
    }


def _strip(value):
    """Leave out keys whose value is None: OCDS prefers an absent field to a null one."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def release_from(disclosure: TenderDisclosure) -> dict[str, Any]:
    """The release of an already loaded disclosure (the public page and the JSON share it)."""
    tender = disclosure.tender
    tag = _tag(disclosure)
    moment = disclosure.last_activity or tender.created_at
    stamp = timezone.localtime(moment).strftime("%Y%m%dT%H%M%S")
    release = {
        "ocid": ocid(tender),
        "id": f"{ocid(tender)}-{tag[0]}-{stamp}",
        "date": _when(moment),
        "tag": tag,
        "initiationType": "tender",
        "language": "zh",
        "parties": _parties(disclosure),
        "buyer": {"id": party_id(tender.buyer_id), "name": tender.buyer.name},
        "tender": _tender(disclosure),
    }
    if disclosure.closed:
        if disclosure.awards:
            release["awards"] = [_award(a) for a in disclosure.awards]
        if disclosure.contracts:
            release["contracts"] = [_contract(c) for c in disclosure.contracts]
    return _strip(release)


def tender_release(*, tender: Tender) -> dict[str, Any]:
    """The OCDS release of a published tender at the latest stage it has reached."""
    return release_from(tender_disclosure_public(tender=tender))


def tender_release_package(*, tender: Tender, uri: str) -> dict[str, Any]:
    """A release package with the tender's one release, published at `uri`."""
    release = tender_release(tender=tender)
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _when(timezone.now()),
        "publisher": {"name": tender.buyer.name},
        "extensions": [LOTS_EXTENSION],
        "releases": [release],
    }
