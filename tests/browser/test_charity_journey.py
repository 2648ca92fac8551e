"""The charity journey on the demo data: 瑶海区慈善协会 posts a service project in the admin and
submits it to 民政审核; civil affairs approves it and it is listed publicly; a company gives
to 瑶海益家 and gets a receipt; a large disbursement is approved by two officials (the same
one twice is refused); the public disclosure page and its Excel export show the money in and
out, and never the household's name."""

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from charity.models import Disbursement, DisbursementApproval, Donation, Fund, ProjectPage
from cms.models import ProjectSectionPage

# serialized_rollback: the rows migrations seed (service types, the Wagtail home page) are put
# back after each transactional test flushes the tables.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Yaohai@2021"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHARITY = "瑶海区慈善协会"
FUND_CODE = "yaohai-yijia"
FUND_NAME = "瑶海益家社会救助专项基金"
PROJECT = "社区困难家庭助学陪伴项目"
DONOR = "安徽瑶海爱心商会"
GIFT = Decimal("10000.00")
PURPOSE = "重病化疗自付费用支出型临时救助"
PAYOUT = Decimal("8000.00")


def _seed():
    """The demo data; `seed_demo` runs in a thread of its own beside Playwright's loop."""
    call_command("seed_demo", verbosity=0)


def _login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/workbench/")


def _admin_login(page, base, username):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/admin/")


def _fits_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _cash(code=FUND_CODE) -> Decimal:
    return Fund.objects.get(code=code).cash_balance


@pytest.fixture
def new_page(browser):
    """Pages in contexts of their own (own cookies): `new_page(PHONE)` or `new_page(DESKTOP)`."""
    contexts = []

    def make(viewport):
        phone = viewport == PHONE
        context = browser.new_context(
            viewport=viewport,
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
            locale="zh-CN",
        )
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _post_project(page, base, artifacts) -> ProjectPage:
    """cishan adds a project in her organisation's section and submits it to 民政审核."""
    today = timezone.localdate()
    _admin_login(page, base, "cishan")
    page.goto(f"{base}/admin/pages/")
    # Her explorer starts at her organisation's section of 服务项目.
    expect(page.locator("h1")).to_contain_text(CHARITY)
    page.get_by_role("link", name="添加子页面").first.click()
    page.wait_for_url(f"{base}/admin/pages/add/charity/projectpage/*/")
    page.fill("#id_title", PROJECT)
    page.fill("#id_summary", "为胜利路街道困难家庭的中小学生提供课后辅导、学习用品和助学金。")
    page.check("#id_gives_funds")
    page.check("#id_gives_services")
    page.get_by_label("能力提升", exact=True).check()
    page.get_by_label("胜利路街道", exact=True).check()
    page.fill("#id_budget", "36000.00")
    page.fill("#id_capacity", "25")
    page.fill("#id_starts_on", today.isoformat())
    page.fill("#id_ends_on", (today + timedelta(days=180)).isoformat())
    # A click elsewhere closes the date picker.
    page.locator("#id_eligibility").click()
    expect(page.locator(".xdsoft_datetimepicker:visible")).to_have_count(0)
    page.fill(
        "#id_eligibility",
        "胜利路街道低保、低收入家庭在读中小学生，由社区推荐，每户最多两名学生。",
    )
    page.fill("#id_contact_name", "周老师")
    page.fill("#id_contact_phone", "13955106688")
    page.screenshot(path=str(artifacts / "charity-project-admin.png"), full_page=True)
    # The publish menu: cishan may not publish, she submits to the review workflow.
    page.locator("footer .w-dropdown__toggle").first.click()
    page.get_by_role("button", name="提交给民政审核").click()
    page.wait_for_url(f"{base}/admin/pages/*/")
    expect(page.get_by_role("link", name=PROJECT)).to_be_visible()

    project = ProjectPage.objects.get(title=PROJECT)
    assert project.organisation.name == CHARITY
    parent = project.get_parent().specific
    assert isinstance(parent, ProjectSectionPage)
    assert parent.organisation_id == project.organisation_id
    assert parent.get_parent().url_path.rstrip("/").endswith("/projects")
    assert not project.live
    assert project.workflow_in_progress
    assert project.current_workflow_state.workflow.name == "民政审核"
    assert project.summary.startswith("为胜利路街道")
    assert project.gives_funds and project.gives_services and not project.gives_goods
    assert [t.name for t in project.service_types.all()] == ["能力提升"]
    assert [s.name for s in project.streets.all()] == ["胜利路街道"]
    assert project.budget == Decimal("36000.00") and project.capacity == 25
    assert project.starts_on == today and project.ends_on == today + timedelta(days=180)
    assert project.contact_name == "周老师" and project.contact_phone == "13955106688"
    return project


def _approve_project(page, base, artifacts, project) -> None:
    """minzheng approves from the dashboard's 等待你的审查 panel."""
    _admin_login(page, base, "minzheng")
    panel = page.locator("#awaiting-review-section")
    expect(panel).to_contain_text("等待你的审查")
    row = panel.get_by_role("row").filter(has_text=PROJECT)
    expect(row).to_have_count(1)
    page.screenshot(path=str(artifacts / "charity-project-review-admin.png"), full_page=True)
    row.get_by_role("button", name="动作").click()
    row.get_by_role("button", name="批准", exact=True).click()
    expect(panel.get_by_role("row").filter(has_text=PROJECT)).to_have_count(0)
    project.refresh_from_db()
    assert project.live
    assert not project.workflow_in_progress


def test_charity_project_donation_disbursement_and_disclosure(live_server, new_page, artifacts):
    _seed()
    base = live_server.url

    # 1. The charity posts a project and submits it for review.
    project = _post_project(new_page(DESKTOP), base, artifacts)

    # 2. Civil affairs approves it; it is listed publicly.
    _approve_project(new_page(DESKTOP), base, artifacts, project)
    visitor = new_page(PHONE)
    visitor.goto(f"{base}/projects/")
    cards = visitor.get_by_test_id("projects")
    expect(cards).to_contain_text(PROJECT)
    _fits_phone(visitor)
    visitor.screenshot(path=str(artifacts / "charity-projects-phone.png"), full_page=True)
    visitor.get_by_role("link", name=PROJECT).first.click()
    expect(visitor.locator("h1")).to_contain_text(PROJECT)
    assert "周老师" in visitor.content()
    _fits_phone(visitor)

    # 3. A company gives 10,000.00 yuan to 瑶海益家; minzheng records it on her phone.
    official = new_page(PHONE)
    _login(official, base, "minzheng")
    cash_before_gift = _cash()
    official.goto(f"{base}/funds/")
    official.get_by_role("link", name=FUND_NAME).click()
    official.wait_for_url(f"{base}/funds/*/")
    official.get_by_role("link", name="登记捐赠").click()
    official.wait_for_url(f"{base}/funds/*/donations/new/")
    official.locator("input[name=kind][value=money]").check()
    official.fill("#id_amount", "10000.00")
    official.locator("input[name=donor_kind][value=organisation]").check()
    official.fill("#id_donor_name", DONOR)
    official.fill("#id_note", "助学专项")
    _fits_phone(official)
    official.screenshot(path=str(artifacts / "charity-donation-form-phone.png"), full_page=True)
    official.get_by_role("button", name="登记并生成收据").click()
    official.wait_for_url(f"{base}/donations/*/")
    receipt_no = official.get_by_test_id("receipt-no").inner_text().strip()
    assert receipt_no
    expect(official.get_by_test_id("value")).to_have_text("10000.00")
    expect(official.get_by_test_id("receipt")).to_contain_text(DONOR)
    _fits_phone(official)
    official.screenshot(path=str(artifacts / "charity-receipt-phone.png"), full_page=True)
    donation = Donation.objects.get(receipt_no=receipt_no)
    assert donation.fund.code == FUND_CODE and donation.amount == GIFT
    assert donation.donor_kind == Donation.DonorKind.ORGANISATION
    assert _cash() - cash_before_gift == GIFT

    # 4. The 8,000-yuan request needs two approvers; the same one twice is refused.
    disbursement = Disbursement.objects.select_related("need__case").get(
        purpose=PURPOSE, fund__code=FUND_CODE
    )
    assert disbursement.status == Disbursement.Status.PENDING
    assert disbursement.amount == PAYOUT
    assert disbursement.required_approvals == 2
    assert disbursement.requested_by.username == "jiedao"
    url = f"{base}/disbursements/{disbursement.pk}/"
    cash_before_payout = _cash()
    official.goto(url)
    # The same form open a second time (another tab), to send it again later.
    second_tab = official.context.new_page()
    second_tab.goto(url)
    expect(official.get_by_test_id("status")).to_have_text("待审批")
    _fits_phone(official)
    official.get_by_test_id("approve").get_by_label("审批意见").fill("材料齐全，同意。")
    official.get_by_test_id("approve").get_by_role("button", name="同意").click()
    official.wait_for_url(url)
    assert "已同意，还需其他人审批。" in official.content()
    expect(official.get_by_test_id("status")).to_have_text("待审批")
    expect(official.get_by_test_id("approved")).to_have_text("1")
    expect(official.get_by_test_id("approve")).to_have_count(0)
    _fits_phone(official)
    official.screenshot(path=str(artifacts / "charity-first-approval-phone.png"), full_page=True)

    second_tab.get_by_test_id("approve").get_by_role("button", name="同意").click()
    expect(second_tab.get_by_test_id("refused")).to_contain_text(
        "您已审批过这笔拨付，同一人不能审批两次。"
    )
    expect(second_tab.get_by_test_id("approve")).to_have_count(0)
    _fits_phone(second_tab)
    second_tab.screenshot(
        path=str(artifacts / "charity-second-try-refused-phone.png"), full_page=True
    )
    disbursement.refresh_from_db()
    assert disbursement.status == Disbursement.Status.PENDING
    assert disbursement.approvals.count() == 1
    assert _cash() == cash_before_payout

    colleague = new_page(PHONE)
    _login(colleague, base, "minzheng2")
    colleague.goto(url)
    expect(colleague.get_by_test_id("approved")).to_have_text("1")
    colleague.get_by_test_id("approve").get_by_role("button", name="同意").click()
    colleague.wait_for_url(url)
    assert "已同意，款物已从基金拨付。" in colleague.content()
    expect(colleague.get_by_test_id("status")).to_have_text("已拨付")
    expect(colleague.get_by_test_id("approved")).to_have_text("2")
    _fits_phone(colleague)
    colleague.screenshot(path=str(artifacts / "charity-paid-phone.png"), full_page=True)
    disbursement.refresh_from_db()
    assert disbursement.status == Disbursement.Status.PAID and disbursement.paid_at
    approvers = disbursement.approvals.filter(decision=DisbursementApproval.Decision.APPROVE)
    assert sorted(approvers.values_list("approver__username", flat=True)) == [
        "minzheng",
        "minzheng2",
    ]
    assert cash_before_payout - _cash() == PAYOUT

    # 5. The public disclosure page and its Excel export, without the household's name.
    case = disbursement.need.case
    names = {case.head_name, *case.members.values_list("name", flat=True)} - {""}
    assert names
    visitor.goto(f"{base}/disclosure/")
    _fits_phone(visitor)
    visitor.screenshot(path=str(artifacts / "charity-disclosure-index-phone.png"), full_page=True)
    visitor.get_by_test_id("funds").get_by_role("link", name=FUND_NAME).click()
    visitor.wait_for_url(f"{base}/disclosure/funds/{FUND_CODE}/")
    paid = visitor.get_by_test_id("disbursements").get_by_role("row").filter(has_text=PURPOSE)
    expect(paid).to_have_count(1)
    expect(paid).to_contain_text("8000.00")
    given = visitor.get_by_test_id("donations").get_by_role("row").filter(has_text=receipt_no)
    expect(given).to_have_count(1)
    expect(given).to_contain_text(DONOR)
    expect(given).to_contain_text("10000.00")
    # ECharts from the project's own static files draws the monthly chart.
    sources = visitor.eval_on_selector_all("script[src*='echarts']", "els => els.map(e => e.src)")
    assert sources and all(s.startswith(f"{base}/static/vendor/echarts/") for s in sources)
    chart = visitor.locator("[data-chart=months]")
    expect(chart).to_be_visible()
    expect(chart.locator("svg")).to_have_count(1)
    assert visitor.evaluate("typeof window.echarts") == "object"
    text = visitor.content()
    for name in names:
        assert name not in text
    _fits_phone(visitor)
    visitor.screenshot(path=str(artifacts / "charity-disclosure-fund-phone.png"), full_page=True)

    # The page's own link, fetched with the visitor's session (a bounded wait, unlike a
    # browser download).
    href = visitor.locator("a[href$='export.xlsx']").first.get_attribute("href")
    response = visitor.request.get(urljoin(visitor.url, href), timeout=30_000)
    assert response.ok
    assert "spreadsheetml" in response.headers["content-type"]
    assert ".xlsx" in response.headers["content-disposition"]
    book = load_workbook(BytesIO(response.body()), read_only=True)
    sheet = book["拨付明细"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    purpose_col, amount_col = header.index("用途"), header.index("金额/估值（元）")
    matches = [r for r in rows[1:] if r[purpose_col] == PURPOSE]
    assert len(matches) == 1
    assert Decimal(str(matches[0][amount_col])).quantize(Decimal("0.01")) == PAYOUT
    given_rows = list(book["捐赠明细"].iter_rows(values_only=True))
    assert any(receipt_no in r and DONOR in r for r in given_rows[1:])
    cells = [
        str(value)
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    for name in names:
        assert not any(name in cell for cell in cells)
    book.close()
