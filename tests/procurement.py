"""Builders for purchase-of-services test data. They validate through the models like
`tests.factories`; stages a test does not exercise (a bid already opened, an award already
made) are built as rows so that each test starts where its subject starts."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from marketplace.models import (
    Award,
    Bid,
    CatalogueItem,
    Contract,
    Criterion,
    Lot,
    Milestone,
    Organisation,
    Role,
    ServiceType,
    Tender,
    User,
)
from tests import factories as f

_seq = itertools.count(1)

# A tiny but real PDF and DOCX (a DOCX is a ZIP whose first entry is [Content_Types].xml).
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def plan_upload(name: str = "方案.pdf", content: bytes = PDF_BYTES):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")


def catalogue_item(*, year: int | None = None, live: bool = True, **extra) -> CatalogueItem:
    """A catalogue item; `live` as if civil affairs had published it in the admin."""
    n = next(_seq)
    values = {
        "year": year or timezone.localdate().year,
        "code": f"YH-{n:03d}",
        "name": f"困难老人探访服务{n}",
        "category": CatalogueItem.Category.ELDERLY,
        "service_type": ServiceType.objects.get(code="visiting"),
        "description": "上门探访独居、空巢困难老人，了解需求，提供情绪支持。",
        "service_standard": "每次不少于60分钟，填写探访记录并由老人或家属签字。",
        "unit": "visit",
        "guidance_price": Decimal("80.00"),
        **extra,
    }
    item = CatalogueItem(**values)
    item.full_clean()
    item.live = live
    item.save()
    if live:
        item.save_revision().publish()
    return item


def agency(world_area, name: str | None = None, *, staff: str | None = None, **extra):
    """A verified agency with one staff user (returned as `agency.staff_user`) and two
    social workers (members with the social-worker role, `agency.worker_users`)."""
    n = next(_seq)
    org = f.organisation(name or f"社工服务中心{n}", Organisation.Kind.AGENCY, world_area, **extra)
    org.staff_user = f.user(staff or f"agency{n}", Role.AGENCY_STAFF, org)
    org.worker_users = [f.user(f"sw{n}_{i}", Role.SOCIAL_WORKER, org) for i in (1, 2)]
    return org


def evaluator(username: str | None = None) -> User:
    return f.user(username or f"expert{next(_seq)}", Role.EVALUATOR)


def tender(
    world,
    *,
    state: str = "bidding",
    lots: int = 1,
    item: CatalogueItem | None = None,
    budget: Decimal = Decimal("40000.00"),
    quantity: int = 500,
) -> Tender:
    """A tender of civil affairs with `lots` lots (street, then street2) and the criteria
    price 40 / plan 30 / team 20 / performance 10, in a given state of its timeline:
    `draft`, `enquiry` (published, bids not yet accepted), `bidding` (window open) or
    `closed` (window closed, not yet opened)."""
    now = timezone.now()
    n = next(_seq)
    times = {
        "draft": (now + timedelta(days=3), now + timedelta(days=1), now + timedelta(days=10)),
        "enquiry": (now + timedelta(days=2), now + timedelta(days=1), now + timedelta(days=10)),
        "bidding": (now + timedelta(days=2), now - timedelta(days=1), now + timedelta(days=10)),
        "closed": (now - timedelta(days=3), now - timedelta(days=5), now - timedelta(seconds=1)),
    }[state]
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    obj = Tender(
        reference=f"YHMZ-T{n:04d}",
        title=f"瑶海区困难老人探访服务采购项目{n}",
        year=timezone.localdate().year,
        buyer=world.civil_affairs,
        scope="为辖区困难老人提供上门探访服务。",
        qualification_requirements="依法登记的社会工作服务机构；至少两名持证社工。",
        enquiry_ends_at=times[0],
        bid_opens_at=times[1],
        bid_closes_at=times[2],
        created_by=official,
    )
    if state != "draft":
        obj.status = Tender.Status.PUBLISHED
        obj.published_at = now - timedelta(days=6)
        obj.published_by = official
    obj.full_clean()
    obj.save()
    item = item or catalogue_item()
    for number, street in enumerate([world.street, world.street2][:lots], start=1):
        lot = Lot(
            tender=obj,
            number=number,
            title=f"{street.name}困难老人探访",
            street=street,
            catalogue_item=item,
            quantity=quantity,
            budget=budget,
        )
        lot.full_clean()
        lot.save()
    for position, (kind, name, weight) in enumerate(
        [
            ("price", "投标报价", 40),
            ("plan", "服务方案", 30),
            ("team", "团队配置", 20),
            ("performance", "以往业绩", 10),
        ]
    ):
        Criterion.objects.create(tender=obj, kind=kind, name=name, weight=weight, position=position)
    return obj


def opened_bid(lot: Lot, agency_org, *, price: Decimal, qualified: bool | None = True) -> Bid:
    """A bid as it stands after opening (plain fields written, sealed content kept empty):
    for tests of evaluation, award and disclosure that start after the close."""
    now = timezone.now()
    bid = Bid.objects.create(
        lot=lot,
        agency=agency_org,
        submitted_by=agency_org.staff_user,
        submitted_at=now - timedelta(days=2),
        revised_at=now - timedelta(days=2),
        sealed="",
        opened_at=now,
        price=price,
        plan_name="服务方案.pdf",
        declarations={"info_true": True, "no_collusion": True, "no_debarment": True},
        qualification={None: Bid.Qualification.PENDING, True: "passed", False: "failed"}[qualified],
    )
    bid.team.set(agency_org.worker_users)
    return bid


def award(lot: Lot, bid: Bid, by: User, *, final: bool = True) -> Award:
    """An award of `lot` to `bid`, past its standstill when `final`."""
    now = timezone.now()
    obj = Award.objects.create(
        lot=lot,
        bid=bid,
        value=bid.price,
        ranking=[],
        status=Award.Status.FINAL if final else Award.Status.STANDSTILL,
        decided_by=by,
        decided_at=now - timedelta(days=10 if final else 1),
        standstill_ends_at=now - timedelta(days=3) if final else now + timedelta(days=6),
    )
    lot.status = Lot.Status.AWARDED
    lot.save(update_fields=["status"])
    return obj


def contract(world, lot: Lot, agency_org, *, price: Decimal = Decimal("36000.00")) -> Contract:
    """A signed contract for `lot` with two milestones (half the quantity each)."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    bid = opened_bid(lot, agency_org, price=price)
    done = award(lot, bid, official)
    today = timezone.localdate()
    obj = Contract.objects.create(
        award=done,
        lot=lot,
        agency=agency_org,
        number=f"HT-{next(_seq):05d}",
        value=price,
        starts_on=today - timedelta(days=60),
        ends_on=today + timedelta(days=300),
        signed_by=official,
        signed_at=timezone.now() - timedelta(days=60),
    )
    half = lot.quantity // 2
    for position, (units, due, pay) in enumerate(
        [(half, 90, price / 2), (lot.quantity - half, 300, price / 2)], start=1
    ):
        Milestone.objects.create(
            contract=obj,
            position=position,
            title=f"第{position}阶段服务",
            service_type=lot.catalogue_item.service_type,
            street=lot.street,
            unit=lot.catalogue_item.unit,
            units_target=units,
            due_on=today + timedelta(days=due),
            payment=pay,
        )
    lot.status = Lot.Status.CONTRACTED
    lot.save(update_fields=["status"])
    return obj
