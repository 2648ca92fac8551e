"""A street official signs in on a phone and lands on the role-aware workbench."""

import pytest
from django.core.management import call_command

# serialized_rollback: the rows migrations seed (service types, the Wagtail home page) are put
# back after each transactional test flushes the tables.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_street_official_logs_in_on_a_phone(live_server, phone, artifacts):
    call_command("seed_demo", verbosity=0)
    page = phone
    page.goto(f"{live_server.url}/")
    assert "瑶海区五社联动社会力量服务平台" in page.locator("h1").first.inner_text()

    page.get_by_role("link", name="登录").first.click()
    page.fill("#id_username", "jiedao")
    page.fill("#id_password", "wrong-password")
    page.get_by_role("button", name="登录").click()
    assert "请输入一个正确的" in page.content()

    page.fill("#id_username", "jiedao")
    page.fill("#id_password", "Yaohai@2021")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/workbench/")

    roles = page.get_by_test_id("roles").inner_text()
    assert "街道干部" in roles and "明光路街道办事处" in roles
    assert page.get_by_role("heading", name="本街道组织").is_visible()
    assert page.get_by_role("heading", name="待认证组织").count() == 0
    # Nothing overflows sideways on a 390 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "workbench-phone.png"), full_page=True)
    assert (artifacts / "workbench-phone.png").stat().st_size > 10_000


def test_directory_filters_on_a_phone(live_server, phone, artifacts):
    call_command("seed_demo", verbosity=0)
    page = phone
    page.goto(f"{live_server.url}/organisations/")
    page.select_option("#id_kind", "agency")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    body = page.locator("tbody").inner_text()
    assert "社会工作服务中心" in body and "慈善协会" not in body
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "directory-phone.png"), full_page=True)
