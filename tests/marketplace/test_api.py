import pytest

from marketplace.demo import credit_code_for
from marketplace.models import Organisation, Role

pytestmark = pytest.mark.django_db

URL = "/api/organisations/"


def test_public_list_shows_verified_only(client, world):
    data = client.get(URL).json()
    names = {o["name"] for o in data["results"]}
    assert "瑶海区慈善协会" in names and "胜利路爱心会" not in names
    assert data["count"] == len(names)


def test_filter_by_kind_and_street(client, world):
    data = client.get(URL, {"kind": "agency", "street": world.street.pk}).json()
    assert [o["name"] for o in data["results"]] == ["阳光社会工作服务中心"]
    assert data["results"][0]["street_name"] == "明光路街道"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"street": 999999}, "street"), ({"kind": "bank"}, "kind"), ({"q": "长" * 51}, "q")],
)
def test_bad_filter_values_are_400_in_chinese(client, world, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_cannot_create(client, world):
    response = client.post(URL, {"name": "x", "kind": "charity", "area": world.street.pk})
    assert response.status_code == 403
    assert "身份认证信息未提供" in response.json()["detail"]


def test_civil_affairs_creates(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(
        URL,
        {
            "name": "接口登记慈善会",
            "kind": "charity",
            "area": world.community.pk,
            "credit_code": credit_code_for(9001),
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["verified"] is False and body["street"] == world.street.pk


def test_malformed_credit_code_is_400(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    before = Organisation.objects.count()
    response = client.post(
        URL,
        {"name": "坏", "kind": "charity", "area": world.street.pk, "credit_code": "ABC"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "统一社会信用代码" in response.json()["credit_code"][0]
    assert Organisation.objects.count() == before


def test_unknown_area_is_400(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(
        URL,
        {"name": "无区域", "kind": "charity", "area": 999999, "credit_code": credit_code_for(9002)},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "area" in response.json()


def test_missing_credit_code_for_charity_is_400(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(
        URL,
        {"name": "无代码", "kind": "charity", "area": world.street.pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "credit_code" in response.json()


def test_street_official_refused_in_other_street(login, world):
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.post(
        URL,
        {
            "name": "越界",
            "kind": "charity",
            "area": world.community2.pk,
            "credit_code": credit_code_for(9003),
        },
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.CHARITY_STAFF, Role.AUDITOR])
def test_other_roles_refused(login, world, role):
    response = login(world.users[role]).post(
        URL,
        {
            "name": "x",
            "kind": "charity",
            "area": world.street.pk,
            "credit_code": credit_code_for(9004),
        },
        content_type="application/json",
    )
    assert response.status_code == 403


def test_detail_scope(client, login, world):
    url = f"{URL}{world.charity_pending.pk}/"
    assert client.get(url).status_code == 404
    assert login(world.users[Role.AUDITOR]).get(url).status_code == 200


def test_verify_endpoint(login, world):
    url = f"{URL}{world.charity_pending.pk}/verify/"
    assert login(world.street_official2).post(url).status_code == 403
    response = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).post(url)
    assert response.status_code == 200 and response.json()["verified"] is True
    again = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).post(url)
    assert again.status_code == 409
    assert "已认证" in again.json()["detail"]


def test_openapi_schema_lists_product_endpoints_only(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/organisations/" in schema["paths"]
    assert all(path.startswith("/api/") for path in schema["paths"])
