"""Purchase-of-services demo data: this year's catalogue, and three tenders at three stages
so every page has something to show and the journey of the issue can be walked:

- 困难家庭个案管理服务 — awarded to 阳光, contract signed with two milestones, delivered
  units logged (by the agency with evidence, and from its team's confirmed service
  records), a mid-term review with its 30% sample drawn and partly verified;
- 社区儿童关爱服务 — closed and opened: two lots, bids from 同心 and 暖心 (which share a
  legal representative, and one lot has a single bidder: red flags), qualified,
  `pingshen1` has declared and scored, `pingshen2` has not yet;
- 困难老人探访服务 — bidding now: 阳光 has bid on lot 1, `jigou2` (同心) may bid; one
  question answered, one waiting.

Everything goes through the services; only the dates of the past are moved back
afterwards (a demo cannot wait for a window to close). Idempotent by tender reference."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from marketplace import crypto
from marketplace.demo import SeedReport
from marketplace.models import (
    Area,
    Award,
    Bid,
    CatalogueItem,
    Lot,
    Organisation,
    Role,
    ServiceType,
    Tender,
    User,
)
from marketplace.services.catalogue import catalogue_editors_sync
from marketplace.services.contracts import (
    MilestoneSpec,
    contract_sign,
    delivery_record_add,
    review_draw,
    sample_verify,
)
from marketplace.services.directory import ORGANISATION_PHONE, membership_add
from marketplace.services.evaluation import (
    award_decide,
    award_finalise,
    bid_qualify,
    evaluator_assign,
    evaluator_declare,
    score_sheet_save,
)
from marketplace.services.tenders import (
    bid_submit,
    criterion_add,
    lot_add,
    question_answer,
    question_ask,
    tender_create,
    tender_open,
    tender_publish,
)

SUNSHINE = "瑶海区阳光社会工作服务中心"
TONGXIN = "瑶海区同心社会工作服务中心"
NUANXIN = "合肥市瑶海区暖心社会工作服务社"
# (agency, legal representative, phone, staff login, staff name, social workers)
AGENCIES = [
    (
        SUNSHINE,
        "陈立华",
        "0551-64321001",
        "jigou",
        "陈静",
        [("sg_yg1", "许文"), ("sg_yg2", "马丽")],
    ),
    (
        TONGXIN,
        "林国强",
        "0551-64321002",
        "jigou2",
        "林晓",
        [("sg_tx1", "高峰"), ("sg_tx2", "何静")],
    ),
    (
        NUANXIN,
        "林国强",
        "0551-64321003",
        "jigou3",
        "宋佳",
        [("sg_nx1", "罗敏"), ("sg_nx2", "梁宇")],
    ),
]
# (code, name, category, service type, unit, guidance price, in the service list)
CATALOGUE = [
    ("01", "困难家庭个案管理服务", "assistance", "social_integration", "case", "1200.00", True),
    ("02", "困难老人探访服务", "elderly", "visiting", "visit", "80.00", True),
    ("03", "老年助餐配送服务", "elderly", "care", "household_month", "300.00", True),
    ("04", "社区儿童关爱服务", "children", "capacity_building", "session", "1500.00", True),
    ("05", "残疾人康复陪护服务", "disability", "rehabilitation", "hour", "60.00", True),
    ("06", "社区心理疏导服务", "community", "counselling", "hour", "150.00", True),
    (
        "07",
        "社会组织能力建设与第三方评估",
        "capacity",
        "capacity_building",
        "session",
        "8000.00",
        False,
    ),
]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DECLARATIONS = {"info_true": True, "no_collusion": True, "no_debarment": True}


def _at(day, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _pdf(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def procurement_demo_seed(*, report: SeedReport, size: str) -> None:
    """Create what is missing of the purchase-of-services demo (the same for every size)."""
    catalogue_editors_sync()
    with transaction.atomic():
        _agencies(report)
        items = _catalogue(report)
    official = User.objects.get(username="minzheng")
    year = timezone.localdate().year
    if not Tender.objects.filter(reference=f"YHMZ-{year}-001").exists():
        _contracted(report, official, items, year)
    if not Tender.objects.filter(reference=f"YHMZ-{year}-002").exists():
        _evaluating(report, official, items, year)
    if not Tender.objects.filter(reference=f"YHMZ-{year}-003").exists():
        _bidding(report, official, items, year)


def _service_type(code: str) -> ServiceType:
    return ServiceType.objects.get(code=code)


def _agencies(report: SeedReport) -> None:
    password = make_password(settings.DEMO_PASSWORD)
    for name, representative, phone, staff, staff_name, workers in AGENCIES:
        agency = Organisation.objects.get(name=name)
        if not agency.legal_representative:
            agency.legal_representative = representative
            for field, value in crypto.sealed_phone(
                phone.replace("-", ""), purpose=ORGANISATION_PHONE
            ).items():
                setattr(agency, field, value)
            agency.save()
        user, created = User.objects.get_or_create(
            username=staff, defaults={"display_name": staff_name, "password": password}
        )
        if created:
            report.add("users")
        membership_add(user=user, role=Role.AGENCY_STAFF, organisation=agency)
        for username, display in workers:
            worker, created = User.objects.get_or_create(
                username=username, defaults={"display_name": display, "password": password}
            )
            if created:
                report.add("users")
            membership_add(user=worker, role=Role.SOCIAL_WORKER, organisation=agency)
        if not agency.verified:
            agency.verified = True
            agency.verified_at = timezone.now()
            agency.save(update_fields=["verified", "verified_at"])


def _catalogue(report: SeedReport) -> dict[str, CatalogueItem]:
    year = timezone.localdate().year
    items = {}
    for code, name, category, service_type, unit, price, listed in CATALOGUE:
        item = CatalogueItem.objects.filter(year=year, code=f"YH{year}-{code}").first()
        if item is None:
            item = CatalogueItem(
                year=year,
                code=f"YH{year}-{code}",
                name=name,
                category=category,
                service_type=_service_type(service_type),
                description=f"面向辖区困难群众提供{name}，由具备资质的社会工作服务机构承接。",
                service_standard="按《瑶海区政府购买社会工作服务标准》执行，建立服务档案，"
                "服务对象满意度不低于90%。",
                unit=unit,
                guidance_price=Decimal(price),
                in_service_list=listed,
            )
            item.full_clean()
            item.save()
            item.save_revision().publish()
            report.add("catalogue_items")
        items[code] = item
    return items


def _staff(name: str) -> User:
    return User.objects.get(
        memberships__organisation__name=name, memberships__role=Role.AGENCY_STAFF
    )


def _team(name: str) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organisation__name=name, memberships__role=Role.SOCIAL_WORKER
        ).order_by("username")
    )


def _tender(official, *, reference, title, scope, lots, weights, closes_in_days=10):
    now = timezone.now()
    tender = tender_create(
        by=official,
        reference=reference,
        title=title,
        year=now.year,
        scope=scope,
        qualification_requirements="在瑶海区登记或备案的社会工作服务机构；"
        "至少配备两名持证社会工作者；近两年绩效评估合格。",
        enquiry_ends_at=now + timedelta(days=closes_in_days - 3),
        bid_opens_at=now - timedelta(minutes=1),
        bid_closes_at=now + timedelta(days=closes_in_days),
        standstill_days=7,
    )
    for title_, street, item, quantity, budget in lots:
        lot_add(
            tender=tender,
            by=official,
            title=title_,
            street=Area.objects.get(name=street, level=Area.Level.STREET),
            catalogue_item=item,
            quantity=quantity,
            budget=Decimal(budget),
            min_team_size=2,
        )
    for kind, name, weight in weights:
        criterion_add(tender=tender, by=official, kind=kind, name=name, weight=weight)
    return tender_publish(tender=tender, by=official)


WEIGHTS = [
    ("price", "投标报价", 30),
    ("plan", "服务方案", 35),
    ("team", "团队配置", 20),
    ("performance", "以往业绩", 15),
]


def _bid(lot, agency_name, price, plan_name):
    return bid_submit(
        lot=lot,
        by=_staff(agency_name),
        agency=Organisation.objects.get(name=agency_name),
        price=Decimal(price),
        plan=_pdf(plan_name),
        team=_team(agency_name),
        declarations=DECLARATIONS,
    )


def _close(tender: Tender, days_ago: int) -> Tender:
    """Move a tender's timeline into the past, as if its window had closed `days_ago`."""
    now = timezone.now()
    Tender.objects.filter(pk=tender.pk).update(
        published_at=now - timedelta(days=days_ago + 20),
        enquiry_ends_at=now - timedelta(days=days_ago + 3),
        bid_opens_at=now - timedelta(days=days_ago + 20),
        bid_closes_at=now - timedelta(days=days_ago),
    )
    tender.refresh_from_db()
    return tender


def _score_all(tender: Tender, username: str, table: dict[str, list[str]]) -> None:
    """An evaluator declares no conflict and scores each qualified bid (by agency name)."""
    assignment = tender.evaluators.get(evaluator__username=username)
    evaluator_declare(assignment=assignment, by=assignment.evaluator, conflict=False)
    criteria = [c for c in tender.criteria.order_by("position", "pk") if c.kind != "price"]
    for bid in Bid.objects.filter(lot__tender=tender, qualification="passed").select_related(
        "agency"
    ):
        marks = table[bid.agency.name]
        score_sheet_save(
            assignment=assignment,
            by=assignment.evaluator,
            bid=bid,
            scores={c.pk: Decimal(m) for c, m in zip(criteria, marks, strict=True)},
        )


def _contracted(report, official, items, year) -> None:
    tender = _tender(
        official,
        reference=f"YHMZ-{year}-001",
        title="瑶海区困难家庭个案管理服务采购项目",
        scope="为明光路街道低保、特困家庭提供个案管理：需求评估、服务计划、资源链接和跟进。",
        lots=[("明光路街道困难家庭个案管理", "明光路街道", items["01"], 60, "70000.00")],
        weights=WEIGHTS,
    )
    lot = tender.lots.get()
    _bid(lot, SUNSHINE, "66000.00", "阳光个案管理服务方案.pdf")
    _bid(lot, TONGXIN, "68500.00", "同心个案管理服务方案.pdf")
    tender = tender_open(tender=_close(tender, 40), by=official)
    for bid in lot.bids.all():
        bid_qualify(bid=bid, by=official, passed=True, reason="")
    for username in ("pingshen1", "pingshen2"):
        evaluator_assign(tender=tender, by=official, evaluator=User.objects.get(username=username))
    _score_all(tender, "pingshen1", {SUNSHINE: ["88", "85", "90"], TONGXIN: ["80", "82", "78"]})
    _score_all(tender, "pingshen2", {SUNSHINE: ["86", "88", "85"], TONGXIN: ["82", "80", "80"]})
    award = award_decide(lot=lot, by=official)
    Award.objects.filter(pk=award.pk).update(
        decided_at=timezone.now() - timedelta(days=35),
        standstill_ends_at=timezone.now() - timedelta(days=28),
    )
    award = award_finalise(award=Award.objects.get(pk=award.pk))
    today = timezone.localdate()
    starts = today - timedelta(days=25)
    contract = contract_sign(
        award=award,
        by=official,
        number=f"YHMZ-HT-{year}-001",
        starts_on=starts,
        ends_on=starts + timedelta(days=364),
        milestones=[
            MilestoneSpec(
                title="中期：完成30户个案评估与服务计划",
                units_target=30,
                due_on=starts + timedelta(days=180),
                payment=Decimal("33000.00"),
            ),
            MilestoneSpec(
                title="末期：完成全部60户个案服务并结案评估",
                units_target=30,
                due_on=starts + timedelta(days=360),
                payment=Decimal("33000.00"),
            ),
        ],
    )
    report.add("contracts")
    first = contract.milestones.order_by("position").first()
    staff = _staff(SUNSHINE)
    households = ["王大爷家", "李奶奶家", "张阿姨家", "刘叔叔家", "陈大妈家", "周师傅家"]
    for n in range(12):
        delivery_record_add(
            milestone=first,
            by=staff,
            units=Decimal("1"),
            delivered_on=min(starts + timedelta(days=2 + n * 2), today),
            description=f"个案评估：{households[n % len(households)]}（第{n // 6 + 1}轮）",
            evidence=_pdf(f"评估记录{n + 1}.pdf"),
        )
        report.add("delivery_records")
    review = review_draw(contract=contract, by=official, kind="midterm")
    for sample in review.samples.order_by("pk")[:2]:
        sample_verify(sample=sample, by=official, result="confirmed", note="")


def _evaluating(report, official, items, year) -> None:
    tender = _tender(
        official,
        reference=f"YHMZ-{year}-002",
        title="瑶海区社区儿童关爱服务采购项目",
        scope="为困境儿童和留守儿童开展课业辅导、安全教育和亲子活动。",
        lots=[
            ("七里站街道儿童关爱", "七里站街道", items["04"], 20, "30000.00"),
            ("城东街道儿童关爱", "城东街道", items["04"], 16, "24000.00"),
        ],
        weights=WEIGHTS,
    )
    first, second = tender.lots.order_by("number")
    _bid(first, TONGXIN, "29600.00", "同心儿童关爱方案.pdf")
    _bid(first, NUANXIN, "29400.00", "暖心儿童关爱方案.pdf")
    _bid(second, NUANXIN, "23800.00", "暖心城东儿童关爱方案.pdf")
    tender = tender_open(tender=_close(tender, 2), by=official)
    for bid in Bid.objects.filter(lot__tender=tender):
        bid_qualify(bid=bid, by=official, passed=True, reason="")
    for username in ("pingshen1", "pingshen2"):
        evaluator_assign(tender=tender, by=official, evaluator=User.objects.get(username=username))
    _score_all(tender, "pingshen1", {TONGXIN: ["84", "80", "76"], NUANXIN: ["78", "82", "70"]})
    report.add("tenders")


def _bidding(report, official, items, year) -> None:
    tender = _tender(
        official,
        reference=f"YHMZ-{year}-003",
        title="瑶海区困难老人探访服务采购项目",
        scope="为独居、空巢困难老人提供定期上门探访、安全检查和情绪支持。",
        lots=[
            ("明光路街道困难老人探访", "明光路街道", items["02"], 600, "46000.00"),
            ("七里站街道困难老人探访", "七里站街道", items["02"], 400, "31000.00"),
        ],
        weights=WEIGHTS,
    )
    lot = tender.lots.order_by("number").first()
    _bid(lot, SUNSHINE, "44800.00", "阳光探访服务方案.pdf")
    staff = _staff(TONGXIN)
    agency = Organisation.objects.get(name=TONGXIN)
    answered = question_ask(
        tender=tender,
        by=staff,
        organisation=agency,
        question="探访服务是否需要配备持证社工全程参与？志愿者能否计入服务人次？",
    )
    question_answer(
        question=answered,
        by=official,
        answer="每次探访须有一名社工或经培训的志愿者到场；志愿者完成的探访经社工确认后可计入服务人次。",
    )
    question_ask(
        tender=tender,
        by=staff,
        organisation=agency,
        question="七里站街道标段的服务对象名单何时提供？",
    )
    report.add("tenders")
    assert Lot.objects.filter(tender=tender).count() == 2
