"""Charity demo data: the district's 瑶海益家 fund and reserve, a charity's published project
with its fund, a mutual-aid society's small fund, a year of donations, paid disbursements in
several streets (so the disclosure charts have months to compare), an emergency paid first
from the reserve and waiting to be regularised, and one large request waiting for two
approvers (`minzheng` and `minzheng2`) — the journey of the issue, walkable on the demo.

Everything goes through the services; only the dates of history are moved back afterwards
(a demo cannot wait a year). Idempotent: run it again and it adds nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from charity.models import Disbursement, Donation, Fund, ProjectPage, Transaction
from charity.services import (
    project_approve,
    project_create,
    project_editors_sync,
    project_reviewers_sync,
    project_section_ensure,
)
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_request,
    reserve_advance,
)
from charity.services.donations import donation_record
from charity.services.ledger import fund_create, fund_transfer
from marketplace.demo import PersonFactory, SeedReport, demo_key
from marketplace.models import Area, Case, Need, Organisation, ServiceType, User
from marketplace.services import MemberInput, NeedInput, case_register, need_transition

CIVIL_AFFAIRS = "瑶海区民政局"
CHARITY = "瑶海区慈善协会"
MUTUAL_AID = "明光路街道社区慈善公益互助会"
PROJECT_TITLE = "困难老人助餐与临时生活补助项目"

# (months ago, donor kind, donor, money | (item, quantity, unit, valuation))
SPECIAL_DONATIONS = [
    (11, "organisation", "合肥瑶海建设集团有限公司", "50000.00"),
    (10, "person", "王志强", "2000.00"),
    (9, "anonymous", "", "5000.00"),
    (8, "organisation", "安徽新华书店瑶海分店", ("图书文具礼包", 200, "份", "8000.00")),
    (6, "organisation", "合肥百货大楼集团", "30000.00"),
    (5, "person", "陈晓梅", "1000.00"),
    (3, "organisation", "瑶海区工商联", ("冬季棉被", 150, "床", "22500.00")),
    (2, "anonymous", "", "3000.00"),
    (1, "organisation", "合肥市瑶海区个体劳动者协会", "15000.00"),
]
PROJECT_DONATIONS = [
    (7, "organisation", "明光路商户联合会", "12000.00"),
    (4, "person", "刘建华", "800.00"),
    (1, "organisation", "瑶海区餐饮行业协会", ("米面粮油", 100, "份", "6000.00")),
]
# Paid disbursements of the past year: (months ago, street, community, service type,
# kind, amount, public purpose, household situation, fund).
# fmt: off
HISTORY = [
    (10, "明光路街道", "瑶海社区", "temporary_expenditure", "funds", "3000.00",
     "重病住院自付费用临时救助", "户主重病住院，自付费用高。", "special"),
    (9, "胜利路街道", "铜陵路社区", "temporary_expenditure", "funds", "2000.00",
     "子女学费缺口临时救助", "家庭收入骤降，子女学费缺口。", "special"),
    (7, "三里街街道", "新安社区", "temporary_emergency", "goods", "1500.00",
     "冬季御寒物资", "独居老人冬季缺少御寒衣被。", "special"),
    (5, "明光路街道", "双岗社区", "temporary_expenditure", "funds", "1200.00",
     "助餐补贴（三个月）", "高龄独居老人，无力承担助餐费用。", "project"),
    (4, "胜利路街道", "凤阳路社区", "temporary_emergency", "funds", "2500.00",
     "意外事故后临时生活救助", "家庭成员意外受伤，生活暂时无着。", "special"),
    (2, "三里街街道", "大通路社区", "temporary_expenditure", "funds", "1800.00",
     "慢性病长期用药临时救助", "慢性病长期服药，医疗支出大。", "special"),
]
# fmt: on


def _key(*parts) -> str:
    return demo_key("charity:" + ":".join(str(p) for p in parts)).hex


def _months_ago(today: date, months: int, day: int = 12) -> date:
    year, month = today.year, today.month - months
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, min(day, 28))


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(10, 30)))


def charity_demo_seed(*, report: SeedReport, size: str) -> None:
    """Create what is missing of the charity demo (the same for every size)."""
    if Fund.objects.filter(kind=Fund.Kind.SPECIAL).exists():
        return
    with transaction.atomic():
        _seed(report)


def _seed(report: SeedReport) -> None:
    today = timezone.localdate()
    official = User.objects.get(username="minzheng")
    official2 = User.objects.get(username="minzheng2")
    street_official = User.objects.get(username="jiedao")
    charity_staff = User.objects.get(username="cishan")
    civil_affairs = Organisation.objects.get(name=CIVIL_AFFAIRS)
    charity = Organisation.objects.get(name=CHARITY)

    special = fund_create(
        organisation=civil_affairs,
        kind=Fund.Kind.SPECIAL,
        name="瑶海益家社会救助专项基金",
        code="yaohai-yijia",
        description="区级社会救助专项基金，接受社会捐赠，用于困难群众临时救助和慈善帮扶。",
    )
    reserve = fund_create(
        organisation=civil_affairs,
        kind=Fund.Kind.RESERVE,
        name="临时救助备用金",
        code="reserve",
        description="急难型临时救助先行拨付，事后补办审批。",
    )
    report.add("funds", 2)

    project = _project(report, charity, charity_staff, official, today)
    project_fund = fund_create(
        organisation=charity,
        kind=Fund.Kind.PROJECT,
        name=f"{PROJECT_TITLE}资金",
        code="cishan-zhucan",
        project=project,
    )
    report.add("funds")
    mutual_aid = Organisation.objects.filter(name=MUTUAL_AID).first()
    if mutual_aid:
        fund_create(
            organisation=mutual_aid,
            kind=Fund.Kind.MUTUAL_AID,
            name="明光路街道互助会小额救助金",
            code="mingguang-huzhu",
        )
        report.add("funds")

    for n, row in enumerate(SPECIAL_DONATIONS):
        _donate(report, special, official, row, today, n)
    for n, row in enumerate(PROJECT_DONATIONS):
        _donate(report, project_fund, charity_staff, row, today, n, project=project)
    donation_record(
        fund=special,
        by=official,
        idempotency_key=_key("pledge"),
        kind=Donation.Kind.SERVICE,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="瑶海区中医院",
        service_description="每月两次社区义诊",
        service_hours=Decimal("48"),
        received_on=_months_ago(today, 6),
    )
    report.add("donations")

    txn = fund_transfer(
        source=special,
        target=reserve,
        amount=Decimal("20000.00"),
        by=official,
        memo="年度临时救助备用金拨入",
        idempotency_key=_key("reserve-topup"),
    )
    Transaction.objects.filter(pk=txn.pk).update(created_at=_at(_months_ago(today, 11, 20)))

    people = PersonFactory(2026, sequences=(700, 800))
    # Who asks each fund (its managers) and who approves (a different person).
    funds = {
        "special": (special, official, official2),
        "project": (project_fund, charity_staff, official),
    }
    for n, row in enumerate(HISTORY):
        _history(report, people, funds, row, n, today, official)

    _emergency(report, street_official)
    _waiting_for_two(report, special, street_official)


def _project(report, charity, staff, official, today) -> ProjectPage:
    # The demo logins' organisations get their sections and Wagtail groups; civil affairs
    # reviews projects.
    for organisation in Organisation.objects.filter(
        memberships__user__username__in=["cishan", "jigou"]
    ).distinct():
        project_section_ensure(organisation=organisation)
        project_editors_sync(organisation=organisation)
    project_reviewers_sync()
    page = project_create(
        organisation=charity,
        owner=staff,
        title=PROJECT_TITLE,
        summary="为明光路街道困难老人提供助餐补贴，并对突发困难家庭给予小额生活补助。",
        budget=Decimal("60000.00"),
        capacity=40,
        starts_on=_months_ago(today, 8, 1),
        ends_on=today + timedelta(days=240),
        eligibility="明光路街道 70 岁以上、独居或子女不在身边的低保、特困、低收入老人；"
        "遭遇突发困难、经社区确认的家庭。",
        contact_name="刘老师",
        contact_phone="0551-64200000",
        streets=list(Area.objects.filter(name="明光路街道", level=Area.Level.STREET)),
        gives_funds=True,
        gives_goods=True,
        gives_services=True,
        service_types=list(
            ServiceType.objects.filter(
                code__in=["care", "temporary_expenditure", "temporary_emergency"]
            )
        ),
        submit=True,
    )
    report.add("projects")
    return project_approve(page=page, by=official, comment="材料齐全，同意发布。")


def _donate(report, fund, by, row, today, n, *, project=None) -> None:
    months, donor_kind, donor, what = row
    fields = {}
    if isinstance(what, tuple):
        item, quantity, unit, valuation = what
        fields = {
            "kind": Donation.Kind.GOODS,
            "item": item,
            "quantity": quantity,
            "unit": unit,
            "valuation": Decimal(valuation),
        }
    else:
        fields = {"kind": Donation.Kind.MONEY, "amount": Decimal(what)}
    received = _months_ago(today, months, 5 + n)
    donation = donation_record(
        fund=fund,
        by=by,
        idempotency_key=_key("donation", fund.code, n),
        donor_kind=donor_kind,
        donor_name=donor,
        project=project,
        received_on=received,
        **fields,
    )
    Transaction.objects.filter(pk=donation.transaction_id).update(created_at=_at(received))
    report.add("donations")


def _history(report, people, funds, row, n, today, official) -> None:
    months, street, community, code, kind, amount, purpose, situation, fund_key = row
    fund, requester, approver = funds[fund_key]
    community = Area.objects.get(name=community, parent__name=street)
    born = people.born(60 + n, today)
    head = people.name(male=n % 2 == 0)
    result = case_register(
        created_by=official,
        community=community,
        members=[
            MemberInput(
                name=head,
                id_number=people.resident_id(born, male=n % 2 == 0),
                relationship="head",
            )
        ],
        phone=people.phone(),
        situation=situation,
        sensitive_consent_by=head,
        need=NeedInput(
            kind=Need.Kind.FUNDS if kind == "funds" else Need.Kind.GOODS,
            service_type=ServiceType.objects.get(code=code),
            window_start=today,
            window_end=today + timedelta(days=30),
            amount=Decimal(amount) if kind == "funds" else None,
            quantity=5 if kind == "goods" else None,
            public_description=situation,
        ),
        submission_key=uuid.UUID(_key("case", n)),
    )
    need = result.need
    need_transition(need=need, to=Need.Status.CONFIRMED, by=official)
    request = disbursement_request(
        fund=fund,
        need=need,
        by=requester,
        kind=kind,
        amount=Decimal(amount),
        item="冬季棉被" if kind == "goods" else "",
        quantity=5 if kind == "goods" else None,
        purpose=purpose,
        idempotency_key=_key("history", n),
    )
    paid = disbursement_approve(
        disbursement=request, by=approver, idempotency_key=_key("history-ok", n)
    )
    day = _at(_months_ago(today, months, 18))
    Disbursement.objects.filter(pk=paid.pk).update(requested_at=day, paid_at=day)
    Transaction.objects.filter(pk=paid.transaction_id).update(created_at=day)
    Case.objects.filter(pk=need.case_id).update(created_at=day - timedelta(days=3))
    report.add("disbursements")


def _emergency(report, street_official) -> None:
    need = Need.objects.filter(
        urgency=Need.Urgency.EMERGENCY,
        kind=Need.Kind.FUNDS,
        public_description__startswith="家庭主要收入者意外受伤",
    ).first()
    if need is None:
        return
    reserve_advance(
        need=need,
        by=street_official,
        amount=Decimal("3000.00"),
        purpose="意外受伤住院，母子基本生活先行救助",
        idempotency_key=_key("emergency"),
    )
    report.add("disbursements")


def _waiting_for_two(report, special, street_official) -> None:
    need = Need.objects.filter(
        kind=Need.Kind.FUNDS,
        status=Need.Status.CONFIRMED,
        public_description__startswith="家庭成员患重病",
    ).first()
    if need is None:
        return
    disbursement_request(
        fund=special,
        need=need,
        by=street_official,
        kind=Disbursement.Kind.FUNDS,
        amount=need.amount,
        purpose="重病化疗自付费用支出型临时救助",
        idempotency_key=_key("waiting"),
    )
    report.add("disbursements")
