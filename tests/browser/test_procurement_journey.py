"""The purchasing journey on the demo data, in the browser: civil affairs publishes a
catalogue item in the admin and a tender on its pages; two agencies bid on their phones
(the bids stay sealed: civil affairs sees no price and cannot fetch a plan); the window
closes and the bids are opened; qualification; two evaluators declare no conflict and
score; the service ranks and civil affairs awards; the standstill passes; the contract is
signed with milestones; the agency logs delivered units that roll up; a review draws its
30% sample; the public notice and its OCDS release show the result."""

import json
import math
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from marketplace.models import Award, Bid, CatalogueItem, Contract, Tender
from marketplace.services.evaluation import award_finalise_due

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Yaohai@2021"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CODE = "YH-JOURNEY-01"
ITEM = "独居老人智能安全巡访服务"
REFERENCE = "YHMZ-JOURNEY-001"
TITLE = "明光路街道独居老人巡访服务采购项目"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/workbench/")


def _fits_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def new_page(browser):
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


def _publish_item(page, base, artifacts):
    """minzheng adds a catalogue item in the admin and publishes it."""
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "minzheng")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/snippets/marketplace/catalogueitem/add/")
    page.fill("#id_year", str(timezone.localdate().year))
    page.fill("#id_code", CODE)
    page.fill("#id_name", ITEM)
    page.select_option("#id_category", "elderly")
    page.select_option("#id_service_type", label="走访探视")
    page.fill("#id_description", "为独居老人提供上门巡访、居家安全检查和紧急呼叫设备维护。")
    page.fill("#id_service_standard", "每次巡访不少于40分钟，检查燃气、用电和呼叫设备并留存记录。")
    page.select_option("#id_unit", "visit")
    page.fill("#id_guidance_price", "90.00")
    page.screenshot(path=str(artifacts / "procurement-catalogue-admin.png"), full_page=True)
    page.locator("footer .w-dropdown__toggle").first.click()
    page.get_by_role("button", name="发布").click()
    page.wait_for_url(f"{base}/admin/snippets/marketplace/catalogueitem/")
    item = CatalogueItem.objects.get(code=CODE)
    assert item.live and item.guidance_price == Decimal("90.00")
    page.goto(f"{base}/procurement/catalogue/{item.year}/")
    expect(page.locator(f"#item-{CODE}")).to_contain_text(ITEM)
    return item


def _publish_tender(page, base, item) -> Tender:
    """minzheng drafts the tender with a lot and weighted criteria, then publishes it."""
    now = timezone.now()
    page.goto(f"{base}/purchasing/tenders/new/")
    page.fill("#id_reference", REFERENCE)
    page.fill("#id_title", TITLE)
    page.fill("#id_scope", "为明光路街道独居老人提供每月两次上门巡访。")
    page.fill("#id_qualification_requirements", "社会工作服务机构，至少两名社工。")
    page.fill("#id_enquiry_ends_at", _local(now + timedelta(hours=12)))
    page.fill("#id_bid_opens_at", _local(now - timedelta(minutes=5)))
    page.fill("#id_bid_closes_at", _local(now + timedelta(days=1)))
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url(f"{base}/purchasing/tenders/*/manage/")
    lot_form = page.locator("form[data-testid=lot-form]")
    lot_form.locator("[name=title]").fill("明光路街道独居老人巡访")
    lot_form.locator("[name=street]").select_option(label="明光路街道")
    lot_form.locator("[name=catalogue_item]").select_option(value=str(item.pk))
    lot_form.locator("[name=quantity]").fill("400")
    lot_form.locator("[name=budget]").fill("35000")
    lot_form.locator("[name=min_team_size]").fill("2")
    lot_form.get_by_role("button", name="添加标段").click()
    expect(page.locator("body")).to_contain_text("明光路街道独居老人巡访")
    for kind, name, weight in [
        ("price", "投标报价", "40"),
        ("plan", "服务方案", "40"),
        ("team", "团队配置", "20"),
    ]:
        form = page.locator("form[data-testid=criterion-form]")
        form.locator("[name=kind]").select_option(kind)
        form.locator("[name=name]").fill(name)
        form.locator("[name=weight]").fill(weight)
        form.get_by_role("button", name="添加评分项").click()
        expect(page.locator("body")).to_contain_text(name)
    page.get_by_role("button", name="发布").click()
    expect(page.locator("body")).to_contain_text("公告中")
    tender = Tender.objects.get(reference=REFERENCE)
    assert tender.status == Tender.Status.PUBLISHED and tender.lots.count() == 1
    return tender


def _bid(page, base, username, tender, price, artifacts):
    """An agency's staff bids on the lot from a phone."""
    _login(page, base, username)
    page.goto(f"{base}/purchasing/open/")
    page.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"{base}/purchasing/open/{tender.pk}/")
    _fits_phone(page)
    lot = tender.lots.get()
    page.goto(f"{base}/purchasing/lots/{lot.pk}/bid/")
    form = page.locator("form[data-testid=bid-form]")
    form.locator("[name=price]").fill(price)
    form.locator("[name=plan]").set_input_files(
        files=[{"name": "服务方案.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    boxes = form.locator("[name=team]")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    for name in ("info_true", "no_collusion", "no_debarment"):
        form.locator(f"[name={name}]").check()
    _fits_phone(page)
    page.screenshot(path=str(artifacts / f"procurement-bid-{username}.png"), full_page=True)
    form.get_by_role("button", name="密封递交").click()
    expect(page.locator("body")).to_contain_text("已递交")


def test_catalogue_tender_bids_evaluation_award_contract_and_review(
    live_server, new_page, artifacts
):
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    official = new_page(DESKTOP)
    item = _publish_item(official, base, artifacts)
    # The admin sign-in is the site sign-in: the same session goes on to the staff pages.
    tender = _publish_tender(official, base, item)

    # The public notice is there while bidding; no bid information in it.
    official.goto(f"{base}/procurement/tenders/{tender.pk}/")
    expect(official.locator("body")).to_contain_text(TITLE)

    _bid(new_page(PHONE), base, "jigou", tender, "33800", artifacts)
    _bid(new_page(PHONE), base, "jigou2", tender, "32600", artifacts)
    bids = list(Bid.objects.filter(lot__tender=tender))
    assert len(bids) == 2 and all(b.price is None and b.sealed for b in bids)

    # Sealed: civil affairs sees neither the prices nor the plans before the close.
    official.goto(f"{base}/purchasing/tenders/{tender.pk}/manage/")
    body = official.locator("body").inner_text()
    assert "33800" not in body and "33,800" not in body and "32600" not in body
    plan = official.request.get(urljoin(base, f"/purchasing/bids/{bids[0].pk}/plan/"))
    assert plan.status == 404

    # The window closes (time passes), civil affairs opens the bids.
    now = timezone.now()
    Tender.objects.filter(pk=tender.pk).update(
        enquiry_ends_at=now - timedelta(hours=1), bid_closes_at=now - timedelta(seconds=1)
    )
    official.reload()
    official.get_by_role("button", name="开标").click()
    expect(official.locator("body")).to_contain_text("已开标")
    expect(official.locator("body")).to_contain_text("32600.00")
    official.get_by_role("link", name="资格审查与评审").click()
    official.wait_for_url(f"{base}/purchasing/evaluation/tenders/{tender.pk}/")
    for i in range(2):
        official.locator("details:has(form[data-testid=qualify]) summary").nth(i).click()
        form = official.locator("form[data-testid=qualify]").nth(i)
        form.locator("input[value=passed]").check()
        with official.expect_navigation():
            form.get_by_role("button", name="保存审查结论").click()
    assert set(Bid.objects.filter(lot__tender=tender).values_list("qualification", flat=True)) == {
        "passed"
    }
    for name in ("钱晓明", "孙丽华"):
        form = official.locator("form[data-testid=assign]")
        form.locator("[name=evaluator]").select_option(label=name)
        form.get_by_role("button", name="指派").click()
        expect(official.locator("body")).to_contain_text(name)

    # Each evaluator declares no conflict, then scores each qualified bid.
    for username, marks in [("pingshen1", ("88", "80")), ("pingshen2", ("84", "86"))]:
        page = new_page(PHONE)
        _login(page, base, username)
        page.goto(f"{base}/purchasing/evaluation/mine/")
        page.get_by_role("link", name=TITLE).first.click()
        declare = page.locator("form[data-testid=declare]")
        declare.locator("input[name=conflict][value=no]").check()
        declare.locator("[name=confirm]").check()
        declare.get_by_role("button", name="提交声明").click()
        expect(page.locator("body")).to_contain_text("无利益冲突")
        sheets = page.locator("a[href*='/bids/']")
        assert sheets.count() == 2
        for i, href in enumerate([sheets.nth(k).get_attribute("href") for k in range(2)]):
            page.goto(urljoin(base, href))
            sheet = page.locator("form[data-testid=score-sheet]")
            scores = sheet.locator("input[name^=score_]")
            for j in range(scores.count()):
                scores.nth(j).fill(marks[(i + j) % 2])
            _fits_phone(page)
            with page.expect_navigation():
                sheet.get_by_role("button", name="保存评分").click()

    # The service ranks; civil affairs awards to the top and the standstill runs.
    official.reload()
    expect(official.locator("[data-testid=ranking]").first).to_be_visible()
    official.screenshot(path=str(artifacts / "procurement-ranking.png"), full_page=True)
    official.locator("form[data-testid=award]").get_by_role("button").click()
    award = Award.objects.get(lot__tender=tender)
    assert award.status == Award.Status.STANDSTILL and len(award.ranking) == 2
    assert award.ranking[0]["rank"] == 1
    Award.objects.filter(pk=award.pk).update(standstill_ends_at=timezone.now() - timedelta(1))
    assert award_finalise_due() == 1

    # The contract with two milestones (prefilled halves of the quantity).
    official.goto(f"{base}/purchasing/awards/{award.pk}/contract/")
    sign = official.locator("form[data-testid=sign]")
    sign.locator("[name=number]").fill("YHMZ-HT-JOURNEY-01")
    sign.get_by_role("button", name="签订").click()
    official.wait_for_url(f"{base}/purchasing/contracts/*/")
    contract = Contract.objects.get(award=award)
    assert contract.milestones.count() == 2
    assert sum(m.units_target for m in contract.milestones.all()) == 400

    # The winning agency logs delivered units; they roll up on the milestone.
    winner = award.bid.agency
    staff = {"瑶海区阳光社会工作服务中心": "jigou", "瑶海区同心社会工作服务中心": "jigou2"}
    agency = new_page(PHONE)
    _login(agency, base, staff[winner.name])
    agency.goto(f"{base}/purchasing/contracts/{contract.pk}/")
    for n in range(4):
        form = agency.locator("form[data-testid=delivery-form]")
        form.locator("[name=units]").fill("5")
        form.locator("[name=delivered_on]").fill(timezone.localdate().isoformat())
        form.locator("[name=description]").fill(f"第{n + 1}批上门巡访")
        form.locator("[name=evidence]").set_input_files(
            files=[{"name": "巡访记录.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
        form.get_by_role("button", name="登记").click()
        agency.wait_for_load_state()
    _fits_phone(agency)
    agency.screenshot(path=str(artifacts / "procurement-contract-phone.png"), full_page=True)
    expect(agency.locator("body")).to_contain_text("20")

    # Civil affairs draws the mid-term review's sample: at least 30% of 4 records.
    official.reload()
    draw = official.locator("form[data-testid=draw-form]")
    draw.get_by_role("button", name="抽取样本").click()
    review = contract.reviews.get()
    assert review.samples.count() == math.ceil(0.3 * 4) == 2
    expect(official.locator("body")).to_contain_text("抽查")

    # The public notice and the OCDS release show the award and the contract.
    official.goto(f"{base}/procurement/tenders/{tender.pk}/")
    expect(official.locator("body")).to_contain_text(winner.name)
    release = official.request.get(urljoin(base, f"/procurement/tenders/{tender.pk}/ocds/"))
    assert release.status == 200
    data = json.loads(release.body())
    latest = data["releases"][0]
    assert latest["ocid"].endswith(REFERENCE)
    assert latest["awards"][0]["status"] == "active"
    assert latest["contracts"][0]["id"]
