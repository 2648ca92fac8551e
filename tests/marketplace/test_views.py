import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.demo import credit_code_for
from marketplace.models import Organisation, Role
from tests import factories as f

pytestmark = pytest.mark.django_db

LIST = reverse("organisation-list")


def _names(response):
    return {o.name for o in response.context["page"].object_list}


def test_public_directory_shows_only_verified(client, world):
    response = client.get(LIST)
    assert response.status_code == 200
    names = _names(response)
    assert "瑶海区慈善协会" in names
    assert "胜利路爱心会" not in names


def test_civil_affairs_sees_unverified_everywhere(login, world):
    names = _names(login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(LIST))
    assert {"胜利路爱心会", "明光路新设服务队"} <= names


def test_street_official_sees_own_street_unverified_only(login, world):
    names = _names(login(world.users[Role.STREET_OFFICIAL]).get(LIST))
    assert "明光路新设服务队" in names
    assert "胜利路爱心会" not in names


def test_filter_by_kind_and_street(client, world):
    response = client.get(LIST, {"kind": "charity", "street": world.street.pk})
    assert _names(response) == {"瑶海区慈善协会"}


def test_unknown_street_gets_clear_error(client, world):
    response = client.get(LIST, {"street": 999999})
    assert response.status_code == 400
    assert "选择一个有效的选项" in response.content.decode()
    assert list(response.context["page"].object_list) == []


def test_out_of_range_page_shows_last_page(client, world):
    response = client.get(LIST, {"page": 9999})
    assert response.status_code == 200


def _queries(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("as_role", [None, Role.CIVIL_AFFAIRS_OFFICIAL])
def test_list_query_count_is_constant(client, world, as_role):
    if as_role:
        client.force_login(world.users[as_role])
    for n in range(5):
        f.organisation(f"批量慈善会{n}", Organisation.Kind.CHARITY, world.community)
    small = _queries(client, LIST)
    for n in range(5, 60):
        f.organisation(f"批量慈善会{n}", Organisation.Kind.CHARITY, world.community2)
    assert _queries(client, LIST) == small
    assert _queries(client, LIST, page=2) == small
    assert small <= 8


def test_detail_hides_unverified_from_public_and_other_street(client, login, world):
    url = reverse("organisation-detail", args=[world.charity_pending.pk])
    assert client.get(url).status_code == 404
    assert login(world.users[Role.STREET_OFFICIAL]).get(url).status_code == 404
    assert login(world.street_official2).get(url).status_code == 200


def test_member_sees_own_unverified_organisation(login, world):
    url = reverse("organisation-detail", args=[world.pending_in_street.pk])
    assert login(world.pending_member).get(url).status_code == 200


CREATE = reverse("organisation-create")


def test_create_requires_login(client, world):
    response = client.get(CREATE)
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize(
    "role",
    [Role.COMMUNITY_WORKER, Role.CHARITY_STAFF, Role.VOLUNTEER, Role.APPLICANT, Role.AUDITOR],
)
def test_create_refused_for_other_roles(login, world, role):
    assert login(world.users[role]).get(CREATE).status_code == 403


def test_street_official_creates_in_own_street(login, world):
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.post(
        CREATE,
        {
            "name": "明光路助残服务队",
            "kind": "volunteer_org",
            "area": world.community.pk,
            "credit_code": credit_code_for(8001).lower(),
        },
    )
    org = Organisation.objects.get(name="明光路助残服务队")
    assert response.status_code == 302 and response["Location"] == org.get_absolute_url()
    assert org.credit_code == credit_code_for(8001)
    assert not org.verified


def test_street_official_cannot_pick_other_street(login, world):
    client = login(world.users[Role.STREET_OFFICIAL])
    before = Organisation.objects.count()
    response = client.post(
        CREATE,
        {
            "name": "越界",
            "kind": "charity",
            "area": world.community2.pk,
            "credit_code": credit_code_for(8002),
        },
    )
    assert response.status_code == 400
    assert Organisation.objects.count() == before


def test_malformed_credit_code_is_refused_by_form(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    before = Organisation.objects.count()
    response = client.post(
        CREATE,
        {
            "name": "坏代码",
            "kind": "charity",
            "area": world.street.pk,
            "credit_code": "91340102MA2N00001X",
        },
    )
    assert response.status_code == 400
    assert "统一社会信用代码" in response.content.decode()
    assert Organisation.objects.count() == before


def test_verify_view_by_civil_affairs(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    url = reverse("organisation-verify", args=[world.charity_pending.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.status_code == 200
    world.charity_pending.refresh_from_db()
    assert world.charity_pending.verified


def test_verify_view_refused_for_street_official(login, world):
    client = login(world.street_official2)
    url = reverse("organisation-verify", args=[world.charity_pending.pk])
    assert client.post(url).status_code == 403
    world.charity_pending.refresh_from_db()
    assert not world.charity_pending.verified


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        (Role.CIVIL_AFFAIRS_OFFICIAL, ["待认证组织", "登记组织", "民政干部"], []),
        (Role.STREET_OFFICIAL, ["本街道组织", "登记组织", "明光路街道办事处"], ["待认证组织"]),
        (Role.VOLUNTEER, ["志愿者", "明光路街道志愿者联合会"], ["登记组织", "待认证组织"]),
        (Role.APPLICANT, ["救助申请人"], ["登记组织"]),
        (Role.AUDITOR, ["审计只读"], ["登记组织", "待认证组织"]),
    ],
)
def test_workbench_is_role_aware(login, world, role, expected, absent):
    body = login(world.users[role]).get(reverse("workbench")).content.decode()
    for text in expected:
        assert text in body
    for text in absent:
        assert text not in body


def test_workbench_requires_login(client, db):
    assert client.get(reverse("workbench")).status_code == 302
