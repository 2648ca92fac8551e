"""Public disclosure (公示) of the funds: figures, charts' tables, Excel, and no personal data."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from charity.models import Disbursement, Donation, Fund
from charity.selectors.disclosure import SHANGHAI, disclosure_for_funds
from charity.services.disbursements import (
    disbursement_approve,
    disbursement_reject,
    disbursement_request,
)
from charity.services.donations import donation_record, donation_refund
from marketplace.models import Need, Organisation, Role
from tests import factories as f
from tests.charity import conftest as charity_fixtures

# The charity tests' builders of published projects.
projects_world = charity_fixtures.projects_world
make_project = charity_fixtures.make_project

pytestmark = pytest.mark.django_db

SECRET_NAME = "司马隐私样"
GOODS_HEAD = "欧阳保密样"
PERSON_DONOR = "李建国"
REFUNDED_DONOR = "赵退还"
CASE_ONLY_TEXT = "大病住院后基本生活困难，需要临时救助金"


def _money_need(w, *, head=SECRET_NAME, amount="3000.00"):
    result = f.household(
        w,
        head=head,
        kind=Need.Kind.FUNDS,
        service_type="temporary_expenditure",
        amount=Decimal(amount),
        description=CASE_ONLY_TEXT,
    )
    f.open_need(w, result.need)
    result.need.refresh_from_db()
    return result


def _give(w, fund, by, **fields):
    return donation_record(fund=fund, by=by, idempotency_key=f.key(), **fields)


def _pay(fund, need, *, by, approver, amount, purpose="临时生活救助金", **extra):
    d = disbursement_request(
        fund=fund,
        need=need,
        by=by,
        kind=extra.pop("kind", Disbursement.Kind.FUNDS),
        amount=Decimal(amount),
        purpose=purpose,
        idempotency_key=f.key(),
        **extra,
    )
    return disbursement_approve(disbursement=d, by=approver, idempotency_key=f.key())


@pytest.fixture
def books(world):
    """The special fund with donations (one refunded, goods, a service pledge) and
    disbursements: two paid (money in one street, goods in the other), one pending, one
    rejected."""
    w = world
    official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    street_official = w.users[Role.STREET_OFFICIAL]
    special = f.fund(w.civil_affairs, Fund.Kind.SPECIAL, name="瑶海益家专项基金", code="yijia")
    M, G, S = Donation.Kind.MONEY, Donation.Kind.GOODS, Donation.Kind.SERVICE
    DK = Donation.DonorKind
    today = timezone.localdate()
    two_months_ago = (today.replace(day=1) - datetime.timedelta(days=40)).replace(day=15)
    _give(
        w, special, official, kind=M, donor_kind=DK.PERSON, donor_name=PERSON_DONOR, amount="10000"
    )
    _give(
        w,
        special,
        official,
        kind=M,
        donor_kind=DK.ORGANISATION,
        donor_name="合肥企业",
        amount="5000",
    )
    _give(
        w,
        special,
        official,
        kind=M,
        donor_kind=DK.ANONYMOUS,
        amount="2000",
        received_on=two_months_ago,
    )
    refunded = _give(
        w, special, official, kind=M, donor_kind=DK.PERSON, donor_name=REFUNDED_DONOR, amount="1000"
    )
    donation_refund(
        donation=refunded, by=official, reason="捐赠人要求退回", idempotency_key=f.key()
    )
    _give(
        w,
        special,
        official,
        kind=G,
        donor_kind=DK.ORGANISATION,
        donor_name="瑶海粮油店",
        item="大米",
        quantity=50,
        unit="袋",
        valuation="3000",
    )
    _give(
        w,
        special,
        official,
        kind=S,
        donor_kind=DK.PERSON,
        donor_name="钱医生",
        service_description="义诊",
        service_hours=Decimal("4"),
    )

    household = _money_need(w)
    need = household.need
    _pay(special, need, by=street_official, approver=official, amount="2500")
    rejected = disbursement_request(
        fund=special,
        need=need,
        by=street_official,
        kind=Disbursement.Kind.FUNDS,
        amount=Decimal("300"),
        purpose="驳回的申请",
        idempotency_key=f.key(),
    )
    disbursement_reject(
        disbursement=rejected, by=official, reason="重复申请", idempotency_key=f.key()
    )
    disbursement_request(
        fund=special,
        need=need,
        by=street_official,
        kind=Disbursement.Kind.FUNDS,
        amount=Decimal("400"),
        purpose="待审批的申请",
        idempotency_key=f.key(),
    )

    goods = f.household(
        w,
        community=w.community2,
        head=GOODS_HEAD,
        kind=Need.Kind.GOODS,
        service_type="care",
        quantity=20,
        description=CASE_ONLY_TEXT,
    )
    f.open_need(w, goods.need)
    _pay(
        special,
        goods.need,
        by=w.street_official2,
        approver=official,
        amount="1200",
        kind=Disbursement.Kind.GOODS,
        item="大米",
        quantity=20,
        purpose="困难家庭口粮",
    )
    return SimpleNamespace(
        w=w,
        fund=special,
        official=official,
        street_official=street_official,
        cases=[household.case, goods.case],
        need=need,
        two_months_ago=two_months_ago,
    )


def _personal(books) -> list[str]:
    values = [SECRET_NAME, GOODS_HEAD, PERSON_DONOR, REFUNDED_DONOR, CASE_ONLY_TEXT]
    for case in books.cases:
        values += [case.full_id, case.full_phone]
    return values


def _workbook_of(response):
    content = response.content if not response.streaming else b"".join(response.streaming_content)
    return load_workbook(BytesIO(content))


# Figures


def test_figures_count_kept_donations_and_paid_disbursements_only(books):
    d = disclosure_for_funds([books.fund])
    assert d.money_received == Decimal("18000.00")
    assert d.money_refunded == Decimal("1000.00")
    assert d.money_in == Decimal("17000.00")
    assert d.goods_in == Decimal("3000.00")
    assert d.donation_count == 4
    assert (d.service_pledges, d.service_hours) == (1, Decimal("4.0"))
    # Pending (400) and rejected (300) requests are not money out.
    assert d.money_out == Decimal("2500.00")
    assert d.goods_out == Decimal("1200.00")
    assert d.disbursement_count == 2
    assert d.cash_balance == Decimal("14500.00")
    assert d.goods_balance == Decimal("1800.00")
    assert [(s.name, s.count, s.funds, s.goods) for s in d.by_category] == [
        ("临时救助（支出型）", 1, Decimal("2500.00"), Decimal("0.00")),
        ("照料护理", 1, Decimal("0.00"), Decimal("1200.00")),
    ]
    assert [(s.name, s.total) for s in d.by_street] == [
        ("明光路街道", Decimal("2500.00")),
        ("胜利路街道", Decimal("1200.00")),
    ]


def test_monthly_series_in_shanghai_months(books):
    today = timezone.localdate(timezone=SHANGHAI)
    month_start = today.replace(day=1)
    # Paid 00:30 on the 1st in Shanghai: still the previous month in UTC.
    paid_at = datetime.datetime.combine(month_start, datetime.time(0, 30), SHANGHAI)
    Disbursement.objects.filter(kind=Disbursement.Kind.GOODS).update(paid_at=paid_at)
    d = disclosure_for_funds([books.fund], months=12, today=today)
    assert len(d.months) == 12
    assert d.months[-1].month == month_start
    assert d.months[0].month == (month_start - datetime.timedelta(days=320)).replace(day=1)
    this = d.months[-1]
    # Refunded donations are left out; the anonymous one was received two months ago.
    assert this.money_in == Decimal("15000.00")
    assert this.goods_in == Decimal("3000.00")
    assert (this.money_out, this.goods_out) == (Decimal("2500.00"), Decimal("1200.00"))
    earlier = {m.month: m for m in d.months}[books.two_months_ago.replace(day=1)]
    assert earlier.money_in == Decimal("2000.00")
    assert sum(m.money_in for m in d.months) == d.money_in
    short = disclosure_for_funds([books.fund], months=1, today=today)
    assert [m.money_in for m in short.months] == [Decimal("15000.00")]


def test_rows_are_de_identified(books):
    d = disclosure_for_funds([books.fund])
    rows = list(d.disbursements)
    assert [(r.category, r.street, r.kind, r.amount) for r in rows] == [
        ("照料护理", "胜利路街道", "goods", Decimal("1200.00")),
        ("临时救助（支出型）", "明光路街道", "funds", Decimal("2500.00")),
    ]
    assert rows[0].item == "大米" and rows[0].quantity == 20
    assert rows[0].paid_on == timezone.localdate(timezone=SHANGHAI)
    fields = set(vars(rows[0]))
    assert not fields & {"need", "case", "household", "name", "phone", "id_number"}
    donors = {r.donor for r in d.donations}
    assert {"李**", "合肥企业", "匿名", "赵**", "瑶海粮油店", "钱**"} == donors
    assert [r.refunded for r in d.donations if r.donor == "赵**"] == [True]


def test_no_funds_no_figures(db):
    d = disclosure_for_funds([])
    assert d.money_in == d.total_out == d.balance == Decimal("0")
    assert len(d.months) == 12 and list(d.disbursements) == []


# Pages


def test_fund_page_shows_figures_tables_and_no_personal_data(client, books):
    response = client.get(reverse("disclosure-fund", args=["yijia"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "瑶海益家专项基金" in body
    for figure in ("17000.00", "3000.00", "2500.00", "1200.00", "14500.00", "1800.00"):
        assert figure in body
    assert "临时救助（支出型）" in body and "胜利路街道" in body
    assert "待审批的申请" not in body and "驳回的申请" not in body
    assert "困难家庭口粮" in body and "李**" in body
    assert 'id="disclosure-chart-data"' in body
    for value in _personal(books):
        assert value not in body, value


def test_index_lists_every_fund_with_in_out_and_balance(client, books):
    reserve = f.fund(
        books.w.civil_affairs, Fund.Kind.RESERVE, name="临时救助备用金", code="reserve"
    )
    response = client.get(reverse("disclosure-index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert books.fund.get_disclosure_url() in body
    assert reserve.get_disclosure_url() in body
    # Received: donations net of refunds, money and goods.
    assert "20000.00" in body and "3700.00" in body and "16300.00" in body
    for value in _personal(books):
        assert value not in body


@pytest.mark.parametrize("role", [None, *Role.values])
def test_anyone_may_read(client, books, role):
    if role is not None:
        user = books.w.users.get(role) or f.user(f"u-{role}", role)
        client.force_login(user)
    for url in (
        reverse("disclosure-index"),
        reverse("disclosure-fund", args=["yijia"]),
        reverse("disclosure-fund-export", args=["yijia"]),
    ):
        assert client.get(url).status_code == 200, url


def test_unknown_fund_is_404(client, db):
    assert client.get(reverse("disclosure-fund", args=["nope"])).status_code == 404
    assert client.get(reverse("disclosure-fund-export", args=["nope"])).status_code == 404


def test_post_is_refused(client, books, make_project):
    project = make_project(publish=True)
    urls = [
        reverse("disclosure-index"),
        reverse("disclosure-fund", args=["yijia"]),
        reverse("disclosure-fund-export", args=["yijia"]),
        reverse("disclosure-project", args=[project.pk]),
        reverse("disclosure-project-export", args=[project.pk]),
    ]
    client.force_login(books.official)
    for url in urls:
        assert client.post(url).status_code == 405, url


def test_fund_page_query_count_is_constant(client, books, django_assert_num_queries):
    url = reverse("disclosure-fund", args=["yijia"])
    client.get(url)  # warm the site and language caches
    with django_assert_num_queries(12) as small:
        client.get(url)
    need = _money_need(books.w, head="另一户", amount="2000.00").need
    for _ in range(10):
        _pay(books.fund, need, by=books.street_official, approver=books.official, amount="100")
    for i in range(25):
        _give(
            books.w,
            books.fund,
            books.official,
            kind=Donation.Kind.MONEY,
            donor_kind=Donation.DonorKind.ORGANISATION,
            donor_name=f"单位{i}",
            amount="10",
        )
    assert Disbursement.objects.filter(status=Disbursement.Status.PAID).count() == 12
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert "第 1 / 2 页" in response.content.decode()
    assert client.get(url, {"dpage": 2}).status_code == 200


def test_index_query_count_is_constant(client, books, django_assert_num_queries):
    url = reverse("disclosure-index")
    client.get(url)
    with django_assert_num_queries(2) as small:
        client.get(url)
    society = f.organisation("互助会", Organisation.Kind.MUTUAL_AID, books.w.community)
    f.fund(books.w.civil_affairs, Fund.Kind.RESERVE, code="reserve")
    for n in range(5):
        f.fund(society, Fund.Kind.MUTUAL_AID, code=f"mutual-{n}")
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


# Excel


def test_export_has_the_sheets_with_the_right_totals_and_no_personal_data(client, books):
    response = client.get(reverse("disclosure-fund-export", args=["yijia"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = _workbook_of(response)
    assert book.sheetnames == ["概览", "月度收支", "按类别", "按街道", "拨付明细", "捐赠明细"]
    overview = {row[0]: row[1] for row in book["概览"].iter_rows(min_row=2, values_only=True)}
    assert overview["资金捐赠收入（元，已扣除退还）"] == 17000
    assert overview["物资捐赠（估值，元）"] == 3000
    assert overview["资金拨付（元）"] == 2500
    assert overview["物资拨付（估值，元）"] == 1200
    assert overview["资金余额（元）"] == 14500
    months = list(book["月度收支"].iter_rows(min_row=2, values_only=True))
    assert len(months) == 12
    assert sum(r[1] for r in months) == 17000 and sum(r[4] for r in months) == 1200
    categories = list(book["按类别"].iter_rows(min_row=2, values_only=True))
    assert categories == [("临时救助（支出型）", 1, 2500, 0, 2500), ("照料护理", 1, 0, 1200, 1200)]
    streets = list(book["按街道"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[4]) for r in streets] == [("明光路街道", 2500), ("胜利路街道", 1200)]
    paid = list(book["拨付明细"].iter_rows(min_row=2, values_only=True))
    assert sum(r[4] for r in paid) == 3700 and len(paid) == 2
    assert book["拨付明细"]["E2"].number_format == "0.00"
    given = list(book["捐赠明细"].iter_rows(min_row=2, values_only=True))
    assert len(given) == 6
    assert sum(r[4] for r in given if r[4] != "" and r[4] is not None and r[10] != "是") == 20000
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    text = "\n".join(cells)
    for value in _personal(books):
        assert value not in text, value


# Projects


def test_project_disclosure_shows_its_funds(client, make_project, projects_world):
    w = projects_world
    project = make_project(publish=True)
    fund = f.fund(w.charity, Fund.Kind.PROJECT, name="助餐项目资金", code="meals", project=project)
    _give(
        w,
        fund,
        w.charity_staff,
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="爱心餐厅",
        amount="800",
    )
    response = client.get(reverse("disclosure-project", args=[project.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert project.title in body and "助餐项目资金" in body and "800.00" in body
    assert fund.get_disclosure_url() in body
    assert project.contact_phone not in body
    export = client.get(reverse("disclosure-project-export", args=[project.pk]))
    overview = {r[0]: r[1] for r in _workbook_of(export)["概览"].iter_rows(values_only=True)}
    assert overview["资金捐赠收入（元，已扣除退还）"] == 800
    # The fund page links back to the project's disclosure.
    fund_body = client.get(fund.get_disclosure_url()).content.decode()
    assert reverse("disclosure-project", args=[project.pk]) in fund_body
    index = client.get(reverse("disclosure-index")).content.decode()
    assert reverse("disclosure-project", args=[project.pk]) in index


def test_unpublished_project_is_404(client, make_project, projects_world):
    draft = make_project(publish=False)
    f.fund(projects_world.charity, Fund.Kind.PROJECT, code="draft-fund", project=draft)
    assert client.get(reverse("disclosure-project", args=[draft.pk])).status_code == 404
    assert client.get(reverse("disclosure-project-export", args=[draft.pk])).status_code == 404
    assert client.get(reverse("disclosure-project", args=[987654])).status_code == 404
    # Its fund is disclosed, but the draft project is neither named as a link nor linked.
    index = client.get(reverse("disclosure-index")).content.decode()
    assert reverse("disclosure-project", args=[draft.pk]) not in index


# Charts


def test_charts_use_the_sites_own_echarts(client, books):
    body = client.get(reverse("disclosure-fund", args=["yijia"])).content.decode()
    src = f'<script src="{settings.STATIC_URL}vendor/echarts/echarts.min.js"'
    assert src in body
    assert f'<script src="{settings.STATIC_URL}js/disclosure_charts.js"' in body
    assert 'src="http' not in body and "src='http" not in body
    assert finders.find("vendor/echarts/echarts.min.js")
    root = Path(settings.BASE_DIR)
    assert (root / "static/vendor/echarts/echarts.min.js").stat().st_size > 100_000
    assert (root / "static/vendor/echarts/LICENSE").exists()
    for template in (root / "cms/templates/cms").glob("disclosure_*.html"):
        text = template.read_text()
        assert 'src="http' not in text and "src='http" not in text, template
        assert "<script>" not in text, template
