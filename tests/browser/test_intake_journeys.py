"""Intake on a phone: an applicant applies online (掌上办) and follows the status; a community
worker registers a household at the window (一门受理) and a street official confirms and
publishes its need."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from marketplace.models import Case, Need
from tests import factories as f

# serialized_rollback: the rows migrations seed (service types, the Wagtail home page) are put
# back after each transactional test flushes the tables.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Yaohai@2021"


def _seed():
    """The demo data; `seed_demo` runs in a thread of its own beside Playwright's loop."""
    call_command("seed_demo", verbosity=0)


def _login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/workbench/")


def _fits_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_applicant_applies_online_on_a_phone(live_server, phone, artifacts):
    _seed()
    page, base = phone, live_server.url
    _login(page, base, "shenqing")
    page.get_by_role("link", name="在线申请").click()
    page.wait_for_url(f"{base}/apply/")
    page.fill("#id_id_number", f.resident_id(date(1979, 4, 12)))
    page.fill("#id_phone", "13955106789")
    page.select_option("#id_community", label="明光路社区")
    page.select_option("#id_kind", "service")
    page.select_option("#id_service_type", label="走访探视")
    page.fill("#id_difficulty", "母亲卧床，白天无人照看")
    _fits_phone(page)
    page.get_by_role("button", name="提交申请").click()
    # The consent (一证一书) is required: refused first, with the reason in Chinese.
    assert "须授权核对家庭经济状况" in page.content()
    page.check("#id_finance_check_consent")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(f"{base}/my/applications/*")
    need = Need.objects.filter(case__applicant__username="shenqing").latest("pk")
    assert need.status == Need.Status.SUBMITTED
    assert page.url.endswith(f"#need-{need.pk}")
    card = page.locator(f"#need-{need.pk}").inner_text()
    assert "走访探视" in card and "已提交" in card
    assert "申请已提交" in page.content()
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "apply-status-phone.png"), full_page=True)


def test_window_registration_then_street_confirms_and_opens(live_server, phone, artifacts):
    _seed()
    page, base = phone, live_server.url
    _login(page, base, "shequ")
    page.get_by_role("link", name="一门受理登记").click()
    page.wait_for_url(f"{base}/cases/new/")
    page.select_option("#id_community", label="明光路社区")
    page.fill("#id_phone", "13955100001")
    page.fill("#id_sensitive_consent_by", "周桂英")
    page.fill("#id_members-0-name", "周桂英")
    page.fill("#id_members-0-id_number", f.resident_id(date(1946, 9, 3)))
    page.select_option("#id_kind", "service")
    page.select_option("#id_service_type", label="走访探视")
    today = timezone.localdate()
    page.fill("#id_window_start", today.isoformat())
    page.fill("#id_window_end", (today + timedelta(days=30)).isoformat())
    page.fill("#id_team_volunteer", "2")
    page.fill("#id_public_description", "八旬老人独居，需要志愿者每周探访")
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "window-form-phone.png"), full_page=True)
    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(f"{base}/cases/*/")
    assert "已登记，需求已提交街道审核。" in page.content()
    members = page.get_by_test_id("members").inner_text()
    assert "周桂英" in members and "********" in members
    page.screenshot(path=str(artifacts / "window-case-phone.png"), full_page=True)
    case = Case.objects.filter(head_name="周桂英", created_by__username="shequ").latest("pk")
    need = case.needs.get()

    page.get_by_role("button", name="退出").click()
    _login(page, base, "jiedao")
    page.goto(f"{base}/needs/{need.pk}/")
    page.get_by_role("button", name="改为“街道已确认”").click()
    page.wait_for_url(f"{base}/needs/{need.pk}/")
    assert "需求状态已改为“街道已确认”" in page.content()
    page.get_by_role("button", name="改为“对接中”").click()
    page.wait_for_url(f"{base}/needs/{need.pk}/")
    assert "需求状态已改为“对接中”" in page.content()
    history = page.get_by_test_id("history").inner_text()
    assert "街道已确认" in history and "对接中" in history
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "need-opened-phone.png"), full_page=True)
    need.refresh_from_db()
    assert need.status == Need.Status.OPEN
