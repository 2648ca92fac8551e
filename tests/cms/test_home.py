import pytest
from wagtail.models import Site

from cms.models import HomePage

pytestmark = pytest.mark.django_db


def test_home_page_is_the_site_root_and_chinese(client):
    site = Site.objects.get(is_default_site=True)
    assert isinstance(site.root_page.specific, HomePage)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "瑶海区五社联动社会力量服务平台" in body
    assert "五社联动" in body
    assert '<html lang="zh-hans">' in body
    assert 'name="viewport"' in body
    assert "/organisations/" in body


def test_home_page_offers_workbench_after_login(client, world):
    from marketplace.models import Role

    client.force_login(world.users[Role.VOLUNTEER])
    assert "/workbench/" in client.get("/").content.decode()


def test_wagtail_admin_is_chinese(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "b@example.test", "pw-Test-12345")
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "控制面板" in body and "跳到主要内容" in body


def test_wagtail_admin_refuses_users_without_access(client, world):
    from marketplace.models import Role

    client.force_login(world.users[Role.VOLUNTEER])
    response = client.get("/admin/")
    assert response.status_code in (302, 403)
