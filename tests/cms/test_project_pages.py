"""The public project pages: the index lists published projects with filters in a constant
number of queries; a project's page is open to anyone once published, 404 before."""

import datetime

import pytest
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction

from charity.models import ProjectPage
from charity.selectors import project_get_public, project_list_public, project_supply_list
from cms.models import ProjectIndexPage, ProjectSectionPage
from tests.charity import conftest as charity_fixtures

pytestmark = pytest.mark.django_db

# The charity tests' fixtures, shared rather than copied.
projects_world = charity_fixtures.projects_world
make_project = charity_fixtures.make_project

URL = "/projects/"


def titles(response):
    return [p.title for p in response.context["page_obj"].object_list]


def test_index_is_under_the_home_page_with_the_review_workflow(db):
    index = ProjectIndexPage.objects.get()
    assert index.slug == "projects" and index.title == "服务项目" and index.live
    assert index.get_parent().specific.__class__.__name__ == "HomePage"
    assert index.get_workflow().name == "民政审核"
    assert [t.name for t in index.get_workflow().tasks] == ["区民政局审核"]


def test_index_lists_only_published_public_projects(projects_world, make_project, client):
    make_project(title="草稿项目")
    make_project(title="审核中项目", submit=True)
    make_project(title="已发布项目", publish=True)
    response = client.get(URL)
    assert response.status_code == 200
    assert titles(response) == ["已发布项目"]
    body = response.content.decode()
    assert "已发布项目" in body and "草稿项目" not in body and "审核中项目" not in body
    assert 'name="viewport"' in body
    assert "瑶海区慈善协会" in body


@pytest.fixture
def catalogue(projects_world, make_project):
    w = projects_world
    t1, t2, _t3 = w.service_types
    made = {
        "funds": make_project(
            title="大病救助金",
            gives_funds=True,
            gives_services=False,
            service_types=[],
            streets=[w.street],
            publish=True,
        ),
        "goods": make_project(
            title="冬衣捐赠",
            organisation=w.charity2,
            owner=w.charity2_staff,
            gives_goods=True,
            gives_services=False,
            service_types=[],
            streets=[w.street2],
            publish=True,
        ),
        "services": make_project(
            title="上门探访",
            organisation=w.mutual_aid,
            owner=w.mutual_aid_staff,
            service_types=[t1, t2],
            streets=[w.street, w.street2],
            publish=True,
        ),
        "full": make_project(
            title="助浴服务", service_types=[t2], streets=[w.street], capacity=2, publish=True
        ),
    }
    ProjectPage.objects.filter(pk=made["full"].pk).update(places_taken=2)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=funds", {"大病救助金"}),
        ("kind=goods", {"冬衣捐赠"}),
        ("kind=services", {"上门探访", "助浴服务"}),
        ("open_only=on", {"大病救助金", "冬衣捐赠", "上门探访"}),
        ("kind=services&open_only=on", {"上门探访"}),
    ],
)
def test_filters(catalogue, client, query, expected):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert set(titles(response)) == expected


def test_filter_by_service_type_and_street(projects_world, catalogue, client):
    w = projects_world
    t1, t2, t3 = w.service_types
    assert set(titles(client.get(f"{URL}?service_type={t1.pk}"))) == {"上门探访"}
    assert set(titles(client.get(f"{URL}?service_type={t2.pk}"))) == {"上门探访", "助浴服务"}
    assert titles(client.get(f"{URL}?service_type={t3.pk}")) == []
    street = set(titles(client.get(f"{URL}?street={w.street.pk}")))
    assert street == {"大病救助金", "上门探访", "助浴服务"}
    street2 = titles(client.get(f"{URL}?street={w.street2.pk}&service_type={t1.pk}"))
    assert street2 == ["上门探访"]
    # The selector takes the same filters.
    assert {p.title for p in project_list_public(street=w.street2.pk)} == {"冬衣捐赠", "上门探访"}
    assert {p.title for p in project_list_public(kind="goods")} == {"冬衣捐赠"}


def test_bad_filter_value_is_a_400_with_a_chinese_error(projects_world, catalogue, client):
    response = client.get(f"{URL}?street=abc&kind=money")
    assert response.status_code == 400
    assert titles(response) == []
    body = response.content.decode()
    assert "选择一个有效的选项" in body


def test_restricted_projects_are_not_public(projects_world, catalogue, client):
    w = projects_world
    section = Page.objects.get(pk=w.sections[w.charity2.pk].pk)
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    assert "冬衣捐赠" not in titles(client.get(URL))


def test_supply_is_open_and_not_ended(projects_world, catalogue, make_project):
    past = timezone.localdate() - datetime.timedelta(days=30)
    make_project(
        title="已结束项目",
        starts_on=past - datetime.timedelta(days=60),
        ends_on=past,
        publish=True,
    )
    supply = {p.title for p in project_supply_list()}
    assert supply == {"大病救助金", "冬衣捐赠", "上门探访"}


def _publish_many(w, make_project, n):
    for i in range(n):
        make_project(
            title=f"项目{i}",
            service_types=w.service_types[: 1 + i % 3],
            streets=[w.street, w.street2][: 1 + i % 2],
            publish=True,
        )


# The site and its pages on the route (5), view restrictions on the route (2), the count
# and the page of projects (2), their service types and streets (2), the filters' choices (2).
QUERIES = 13


@pytest.mark.parametrize("query", ["", "kind=services&open_only=on"])
def test_index_query_count_is_constant(
    projects_world, make_project, client, django_assert_num_queries, query
):
    w = projects_world
    _publish_many(w, make_project, 2)
    client.get(URL)  # the site's root paths are cached from the first request on
    with django_assert_num_queries(QUERIES):
        assert len(titles(client.get(f"{URL}?{query}"))) == 2
    _publish_many(w, make_project, 6)
    with django_assert_num_queries(QUERIES):
        assert len(titles(client.get(f"{URL}?{query}"))) == 8


def test_project_page_is_public_once_published(projects_world, make_project, client):
    w = projects_world
    draft = make_project(title="未发布项目")
    assert client.get(draft.url or f"/projects/org-{w.charity.pk}/{draft.slug}/").status_code == 404
    with pytest.raises(Exception):  # noqa: B017 - Http404
        project_get_public(page_id=draft.pk)
    page = make_project(
        title="冬季送温暖", gives_goods=True, body="<p>每户一件棉衣、一床棉被。</p>", publish=True
    )
    assert project_get_public(page_id=page.pk) == page
    response = client.get(page.url)
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "冬季送温暖",
        "为独居、高龄的困难老人每天送一餐热饭。",
        "瑶海区慈善协会",
        "物资",
        "服务",
        "明光路街道",
        w.service_types[0].name,
        "12000.50 元",
        "已服务 0 / 20 人",
        "余 20 / 20 个名额",
        "70 岁以上",
        "张老师",
        'href="tel:13905510001"',
        "每户一件棉衣",
        'name="viewport"',
    ):
        assert text in body, text


def test_section_page_lists_its_organisations_projects(projects_world, make_project, client):
    w = projects_world
    make_project(title="本会项目", publish=True)
    make_project(title="他会项目", organisation=w.charity2, owner=w.charity2_staff, publish=True)
    section = ProjectSectionPage.objects.get(organisation=w.charity)
    response = client.get(section.url)
    assert response.status_code == 200
    assert titles(response) == ["本会项目"]
