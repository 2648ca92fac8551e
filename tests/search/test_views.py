"""The search page and the JSON API: what a visitor and a signed-in provider find, and a
clear answer to every bad input (never a 500)."""

from __future__ import annotations

import pytest

from marketplace.models import Role
from search.backends import get_backend
from tests.search.conftest import doc

pytestmark = pytest.mark.django_db


@pytest.fixture
def indexed(world):
    get_backend().rebuild(
        [
            doc("project", 1, "社区居家养老服务项目", "为独居老人提供助餐、助浴和上门探访。"),
            doc(
                "need",
                2,
                "心理疏导需求 · 明光路社区",
                "家庭成员患重病，需要心理疏导和定期陪伴。",
                status="open",
                status_display="对接中",
            ),
            doc(
                "organisation",
                3,
                "阳光社会工作服务中心",
                "提供养老照护与心理咨询。",
                street_id=world.street2.pk,
                street="胜利路街道",
                status="verified",
                status_display="已认证",
            ),
        ]
        + [doc("project", 100 + i, f"老年助餐点{i}号", "助餐服务") for i in range(30)]
    )
    return world


def test_page_finds_and_highlights(client, indexed):
    response = client.get("/search/", {"q": "养老"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "社区居家养老服务项目" in html
    assert "<mark>养老</mark>" in html
    assert "找到 2 条结果" in html
    # Facet links with counts; a link keeps the text and drops the page.
    assert "?q=%E5%85%BB%E8%80%81&amp;type=organisation" in html or "type=organisation" in html
    assert "(1)" in html


def test_header_links_to_search(client, indexed):
    html = client.get("/search/").content.decode()
    assert 'href="/search/"' in html


def test_visitors_do_not_see_needs_signed_in_users_do(client, indexed, login):
    anonymous = client.get("/api/search/", {"q": "心理疏导"}).json()
    assert [r["type"] for r in anonymous["results"]] == []
    assert "need" not in {o["value"] for o in anonymous["facets"].get("type", [])}
    refused = client.get("/api/search/", {"q": "心理疏导", "type": "need"})
    assert refused.status_code == 400 and "登录" in refused.json()["detail"]

    login(indexed.users[Role.VOLUNTEER])
    signed_in = client.get("/api/search/", {"q": "心理疏导"}).json()
    assert [(r["type"], r["id"]) for r in signed_in["results"]] == [("need", 2)]


def test_api_shape(client, indexed):
    data = client.get("/api/search/", {"q": "养老"}).json()
    assert data["count"] == 2 and data["count_exact"] is True
    assert data["page"] == 1 and data["num_pages"] == 1
    first = data["results"][0]
    assert set(first) == {"type", "id", "title", "url", "highlight"}
    assert (first["type"], first["id"], first["url"]) == ("project", 1, "/project/1/")
    assert set(data["facets"]) == {"type", "street", "service_type", "status"}
    option = data["facets"]["type"][0]
    assert set(option) == {"value", "label", "count", "selected"}
    assert {o["label"] for o in data["facets"]["type"]} == {"服务项目", "组织"}


def test_api_filters(client, indexed):
    data = client.get(
        "/api/search/", {"q": "养老", "street": indexed.street2.pk, "type": "organisation"}
    ).json()
    assert [(r["type"], r["id"]) for r in data["results"]] == [("organisation", 3)]
    assert [o["selected"] for o in data["facets"]["type"] if o["value"] == "organisation"] == [True]


def test_pages(client, indexed):
    first = client.get("/api/search/", {"q": "助餐"}).json()
    assert first["count"] == 31 and first["num_pages"] == 2 and len(first["results"]) == 20
    second = client.get("/api/search/", {"q": "助餐", "page": 2}).json()
    assert len(second["results"]) == 11
    html = client.get("/search/", {"q": "助餐"}).content.decode()
    assert "page=2" in html and "第 1 / 2 页" in html


@pytest.mark.parametrize("path", ["/search/", "/api/search/"])
def test_empty_query_is_an_empty_answer(client, indexed, path):
    response = client.get(path, {"q": "   "})
    assert response.status_code == 200
    if path.startswith("/api"):
        assert response.json()["count"] == 0 and response.json()["results"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "养" * 10_000}, "搜索词太长"),
        ({"q": "养老", "type": "person"}, "未知的类型"),
        ({"q": "养老", "street": "abc"}, "未知的街道"),
        ({"q": "养老", "street": "999999"}, "未知的街道"),
        ({"q": "养老", "service_type": "x"}, "未知的服务类型"),
        ({"q": "养老", "status": "bogus"}, "未知的状态"),
        ({"q": "养老", "page": "0"}, "页码"),
        ({"q": "养老", "page": "abc"}, "页码"),
        ({"q": "养老", "page": "100000"}, "页码不能超过"),
    ],
)
@pytest.mark.parametrize("path", ["/search/", "/api/search/"])
def test_bad_input_is_a_400_in_chinese(client, indexed, path, params, message):
    response = client.get(path, params)
    assert response.status_code == 400
    text = response.json()["detail"] if path.startswith("/api") else response.content.decode()
    assert message in text


@pytest.mark.parametrize("path", ["/search/", "/api/search/"])
def test_page_past_the_end_is_a_404_with_a_reason(client, indexed, path):
    response = client.get(path, {"q": "养老", "page": 7})
    assert response.status_code == 404
    text = response.json()["detail"] if path.startswith("/api") else response.content.decode()
    assert "没有第 7 页" in text


@pytest.mark.parametrize(
    "q", ['"*:()[]{}^~!\\', "养老 AND (", "' OR 1=1 --", "<script>alert(1)</script>", "\u200b"]
)
@pytest.mark.parametrize("path", ["/search/", "/api/search/"])
def test_query_syntax_is_just_text(client, indexed, path, q):
    response = client.get(path, {"q": q})
    assert response.status_code == 200
    assert b"<script>alert" not in response.content


@pytest.mark.parametrize("path", ["/search/", "/api/search/"])
def test_a_null_character_is_refused(client, indexed, path):
    assert client.get(path, {"q": "养老\x00"}).status_code == 400


def test_search_down_is_a_503(client, indexed, settings):
    from search.client import get_client

    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    get_client.cache_clear()
    try:
        page = client.get("/search/", {"q": "养老"})
        api = client.get("/api/search/", {"q": "养老"})
    finally:
        get_client.cache_clear()
    assert page.status_code == api.status_code == 503
    assert "搜索暂时不可用" in api.json()["detail"]


def test_query_count_does_not_grow_with_results(client, indexed, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        client.get("/search/", {"q": "助餐"})
    with django_assert_max_num_queries(12):
        client.get("/api/search/", {"q": "养老"})
