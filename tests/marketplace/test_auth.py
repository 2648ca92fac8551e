import pytest
from django.urls import reverse

from marketplace.models import Role

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def test_login_lands_on_workbench(client, world):
    response = client.post(LOGIN, {"username": "jiedao", "password": "pw-Test-12345"})
    assert response.status_code == 302
    assert response["Location"] == reverse("workbench")


def test_wrong_password_gets_chinese_message_without_detail(client, world):
    response = client.post(LOGIN, {"username": "jiedao", "password": "wrong"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "请输入一个正确的" in body
    # The same words for an unknown user: nothing tells which part was wrong.
    other = client.post(LOGIN, {"username": "nobody", "password": "wrong"}).content.decode()
    assert "请输入一个正确的" in other
    assert "不存在" not in other


def test_login_is_rate_limited(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "jiedao", "password": "wrong"})
    response = client.post(LOGIN, {"username": "jiedao", "password": "pw-Test-12345"})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "jiedao", "password": "wrong"})
    response = client.post(LOGIN, {"username": "minzheng", "password": "pw-Test-12345"})
    assert response.status_code == 302


def test_logout_needs_post(login, world):
    client = login(world.users[Role.VOLUNTEER])
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("workbench")).status_code == 302


def test_password_change_rejects_bad_input(login, world):
    client = login(world.users[Role.VOLUNTEER])
    url = reverse("password_change")
    response = client.post(
        url, {"old_password": "wrong", "new_password1": "123", "new_password2": "456"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "旧密码不正确" in body or "你的旧密码不正确" in body
    user = world.users[Role.VOLUNTEER]
    user.refresh_from_db()
    assert user.check_password("pw-Test-12345")


def test_password_change_works(login, world):
    client = login(world.users[Role.VOLUNTEER])
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "pw-Test-12345",
            "new_password1": "Xin-Mima-2026!",
            "new_password2": "Xin-Mima-2026!",
        },
    )
    assert response.status_code == 302
    user = world.users[Role.VOLUNTEER]
    user.refresh_from_db()
    assert user.check_password("Xin-Mima-2026!")


def test_site_is_chinese_by_default_and_english_on_request(client, world):
    assert "登录" in client.get(LOGIN).content.decode()
    response = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Log in" in response.content.decode()
