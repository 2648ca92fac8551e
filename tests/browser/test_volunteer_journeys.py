"""Volunteering on a phone: a newcomer registers, joins the street's 志愿者联合会 and signs up
for an opportunity; 赵磊 checks in and out with the organiser's rotating code and reaches his
first star; a social worker and a volunteer work together in the team room over websockets."""

import socket
import threading
import time
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from marketplace.models import Organisation
from tests import factories as f
from volunteers.models import (
    Affiliation,
    Opportunity,
    ServiceRecord,
    Signup,
    Team,
    TeamTask,
    Volunteer,
)

# serialized_rollback: the rows migrations seed (service types, the Wagtail home page) are put
# back after each transactional test flushes the tables.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Yaohai@2021"
FEDERATION = "明光路街道志愿者联合会"
PHONE = {"width": 390, "height": 844}


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


@pytest.fixture
def other_phone(browser):
    """A second phone (its own cookies): the organiser, manager or team leader."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def asgi_server(transactional_db):
    """The ASGI application (HTTP and the team room's websockets) under uvicorn in a thread;
    pytest-django's live server speaks WSGI only."""
    import uvicorn

    from config.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_newcomer_registers_joins_the_federation_and_signs_up(
    live_server, phone, other_phone, artifacts
):
    _seed()
    page, base = phone, live_server.url
    page.goto(f"{base}/volunteers/register/")
    assert page.get_by_role("heading", name="志愿者注册").is_visible()
    page.fill("#id_account-username", "sunli")
    page.fill("#id_account-password", PASSWORD)
    page.fill("#id_account-password_again", PASSWORD)
    page.fill("#id_real_name", "孙丽")
    page.fill("#id_id_number", f.resident_id(date(1992, 5, 3)))
    page.fill("#id_phone", "13955107788")
    page.select_option("#id_home_community", label="明光路社区")
    page.get_by_label("探访陪伴").check()
    page.select_option("#id_avail-0-weekday", label="周六")
    page.fill("#id_avail-0-start", "09:00")
    page.fill("#id_avail-0-end", "12:00")
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "volunteer-register-phone.png"), full_page=True)
    page.get_by_role("button", name="提交注册").click()
    page.wait_for_url(f"{base}/volunteers/*/")
    assert "注册成功，欢迎加入志愿服务！" in page.content()
    volunteer = Volunteer.objects.get(user__username="sunli")
    assert volunteer.real_name == "孙丽"
    assert volunteer.home_community.name == "明光路社区"
    assert list(volunteer.skills.values_list("code", flat=True)) == ["visiting"]
    assert volunteer.availabilities.count() == 1

    # The federation's page: ask to join.
    federation = Organisation.objects.get(name=FEDERATION)
    page.goto(f"{base}/organisations/{federation.pk}/")
    join = page.get_by_test_id("join")
    join.get_by_label("申请说明（选填）").fill("住在明光路社区，周末有空")
    join.get_by_role("button", name="申请加入").click()
    assert "已提交加入申请，请等待组织审核。" in page.content()
    _fits_phone(page)
    affiliation = Affiliation.objects.get(volunteer=volunteer, organisation=federation)
    assert affiliation.status == Affiliation.Status.PENDING

    # The federation's manager approves on their own phone.
    manager = other_phone
    _login(manager, base, "zhiyuanhui")
    manager.goto(f"{base}/affiliations/")
    card = manager.get_by_test_id("affiliation").filter(has_text="孙丽")
    expect(card).to_have_count(1)
    card.get_by_label("审核意见").fill("欢迎加入")
    card.get_by_role("button", name="同意加入").click()
    manager.wait_for_url(f"{base}/affiliations/")
    assert "已处理" in manager.content()
    expect(manager.get_by_test_id("affiliation").filter(has_text="孙丽")).to_have_count(0)
    _fits_phone(manager)
    affiliation.refresh_from_db()
    assert affiliation.status == Affiliation.Status.APPROVED

    # Back on the volunteer's phone: sign up for an upcoming opportunity.
    page.goto(f"{base}/opportunities/")
    page.get_by_role("link", name="长者智能手机课堂").click()
    page.wait_for_url(f"{base}/opportunities/*/")
    page.get_by_role("button", name="报名参加").click()
    assert "报名成功！活动开始前一天会提醒您。" in page.content()
    assert "已报名" in page.get_by_test_id("my-signup").inner_text()
    page.goto(f"{base}/my/opportunities/")
    row = page.get_by_role("row").filter(has_text="长者智能手机课堂")
    expect(row).to_have_count(1)
    assert "已报名" in row.inner_text()
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "volunteer-my-opportunities-phone.png"), full_page=True)
    signup = Signup.objects.get(volunteer=volunteer, opportunity__title="长者智能手机课堂")
    assert signup.status == Signup.Status.CONFIRMED


def test_check_in_and_out_until_the_first_star(live_server, phone, other_phone, artifacts):
    _seed()
    page, base = phone, live_server.url
    zhao = Volunteer.objects.get(user__username="zhiyuan")
    assert zhao.star_level == 0 and zhao.confirmed_hours == 98
    opportunity = Opportunity.objects.get(organisation__name=FEDERATION, title="独居老人上门探访")
    assert opportunity.confirmed_count < opportunity.slots

    _login(page, base, "zhiyuan")
    page.goto(f"{base}/opportunities/{opportunity.pk}/")
    page.get_by_role("button", name="报名参加").click()
    assert "报名成功！活动开始前一天会提醒您。" in page.content()

    organiser = other_phone
    _login(organiser, base, "zhiyuanhui")
    code_url = f"{base}/opportunities/{opportunity.pk}/checkin-code/"
    with time_machine.travel(opportunity.starts_at - timedelta(minutes=10), tick=True) as clock:
        organiser.goto(code_url)
        first_code = organiser.get_by_test_id("code").inner_text().strip()
        assert first_code.isdigit() and len(first_code) == 6
        _fits_phone(organiser)
        organiser.screenshot(path=str(artifacts / "checkin-code-phone.png"), full_page=True)

        page.goto(f"{base}/checkin/{opportunity.pk}/?code={first_code}")
        expect(page.get_by_label("签到码")).to_have_value(first_code)
        page.get_by_role("button", name="签到", exact=True).click()
        assert "签到成功" in page.content()
        expect(page.get_by_role("button", name="签退")).to_be_visible()

        clock.move_to(opportunity.starts_at + timedelta(hours=2, minutes=50))
        organiser.get_by_role("link", name="刷新").click()
        organiser.wait_for_url(code_url)
        second_code = organiser.get_by_test_id("code").inner_text().strip()
        assert second_code.isdigit() and second_code != first_code

        page.goto(f"{base}/checkin/{opportunity.pk}/?code={second_code}")
        page.get_by_role("button", name="签退").click()
        assert "签退成功，本次服务 3 小时，待组织方确认。" in page.content()
        record = ServiceRecord.objects.get(volunteer=zhao, opportunity=opportunity)
        assert record.status == ServiceRecord.Status.PENDING and record.hours == 3

        organiser.goto(f"{base}/records/pending/")
        row = organiser.get_by_role("row").filter(has_text="赵磊")
        expect(row).to_have_count(1)
        row.get_by_role("button", name="确认", exact=True).click()
        assert "已确认 赵磊 的服务时长 3 小时。" in organiser.content()
        _fits_phone(organiser)

    record.refresh_from_db()
    assert record.status == ServiceRecord.Status.CONFIRMED
    zhao.refresh_from_db()
    assert zhao.star_level == 1 and zhao.confirmed_hours >= 100

    page.goto(f"{base}/volunteers/{zhao.pk}/")
    assert "★" in page.locator("h1").inner_text()
    stars = page.get_by_test_id("stars").inner_text()
    assert "★" in stars and "101 小时" in stars
    _fits_phone(page)
    page.screenshot(path=str(artifacts / "volunteer-star-phone.png"), full_page=True)


# WhiteNoise hands the ASGI handler a synchronous file iterator for static files.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_team_room_between_two_phones(asgi_server, phone, other_phone, artifacts):
    _seed()
    base = asgi_server
    team = Team.objects.get(name="明光路探访关爱小组")
    task = TeamTask.objects.get(team=team, title="周二上门探访并记录老人近况")
    leader, member = other_phone, phone
    _login(leader, base, "shegong")
    _login(member, base, "zhiyuan")
    for page in (leader, member):
        page.goto(f"{base}/teams/{team.pk}/")
        expect(page.locator("#room-status")).to_have_text("已连接，消息实时送达。", timeout=10_000)

    body = "明天下午两点社区门口集合，请带好马甲"
    leader.get_by_role("textbox", name="消息").fill(body)
    leader.get_by_role("button", name="发送").click()
    expect(member.locator("#message-list li").last).to_contain_text(body)
    expect(member.locator("#message-list li").last).to_contain_text("杨洋")
    expect(leader.locator("#message-list li.mine").last).to_contain_text(body)

    member.locator(f"#task-{task.pk}").get_by_role("button", name="认领").click()
    claimed = leader.locator(f"#tasks-claimed #task-{task.pk}")
    expect(claimed).to_contain_text("认领人：赵磊")
    expect(member.locator(f"#tasks-claimed #task-{task.pk}")).to_be_visible()
    task.refresh_from_db()
    assert task.status == TeamTask.Status.CLAIMED
    assert task.claimed_by.username == "zhiyuan"

    for name, page in (("leader", leader), ("member", member)):
        _fits_phone(page)
        page.screenshot(path=str(artifacts / f"team-room-{name}-phone.png"), full_page=True)
