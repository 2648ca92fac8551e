"""Who may edit which project pages: each organisation's section and group, kept in step with
memberships, and refusals in the Wagtail admin for every other organisation's pages."""

import pytest
from django.contrib.auth.models import Group
from wagtail.models import GroupPagePermission, Page
from wagtail.test.utils.form_data import rich_text

from charity.models import ProjectPage
from charity.services import (
    project_editors_sync,
    project_reviewers_sync,
    project_section_ensure,
)
from charity.services.projects import REVIEWERS_GROUP
from marketplace.models import Membership, Organisation, Role
from marketplace.services import membership_add
from tests import factories as f

pytestmark = pytest.mark.django_db

REFUSED = (302, 403)


def editors(organisation):
    return Group.objects.get(name=f"项目编辑：{organisation.name}")


def page_codenames(group, page):
    return set(
        GroupPagePermission.objects.filter(group=group, page=page).values_list(
            "permission__codename", flat=True
        )
    )


# --- Sections and groups ------------------------------------------------------------------


def test_section_and_group_are_made_once(projects_world):
    w = projects_world
    section = w.sections[w.charity.pk]
    assert project_section_ensure(organisation=w.charity).pk == section.pk
    assert project_section_ensure(organisation=w.charity).pk == section.pk
    assert Page.objects.filter(pk=section.pk).get().get_parent().slug == "projects"
    assert section.specific.organisation == w.charity
    assert section.live
    group = editors(w.charity)
    assert Group.objects.filter(name=group.name).count() == 1
    assert page_codenames(group, section) == {"add_page", "change_page"}
    assert GroupPagePermission.objects.filter(group=group).count() == 2
    assert group.permissions.filter(codename="access_admin").exists()


def test_editors_are_exactly_the_active_staff(projects_world):
    w = projects_world
    group = editors(w.charity)
    assert set(group.user_set.all()) == {w.charity_staff}
    colleague = f.user("cishan3", Role.CHARITY_STAFF, w.charity)
    leaver = f.user("cishan4", Role.CHARITY_STAFF, w.charity)
    leaver.is_active = False
    leaver.save()
    stranger = f.user("waiyuan")
    group.user_set.add(stranger)  # put there by hand; the sync takes it away
    project_editors_sync(organisation=w.charity)
    assert set(group.user_set.all()) == {w.charity_staff, colleague}
    Membership.objects.filter(user=colleague).delete()
    project_editors_sync(organisation=w.charity)
    assert set(group.user_set.all()) == {w.charity_staff}
    assert set(editors(w.agency).user_set.all()) == {w.agency_staff}
    assert set(editors(w.mutual_aid).user_set.all()) == {w.mutual_aid_staff}


def test_reviewers_are_exactly_the_active_civil_affairs_officials(projects_world):
    w = projects_world
    reviewers = Group.objects.get(name=REVIEWERS_GROUP)
    assert set(reviewers.user_set.all()) == {w.official}
    assert reviewers.permissions.filter(codename="access_admin").exists()
    index = Page.objects.get(slug="projects")
    assert page_codenames(reviewers, index) == {"change_page", "publish_page"}
    retired = f.user("minzheng2", Role.CIVIL_AFFAIRS_OFFICIAL, w.civil_affairs)
    retired.is_active = False
    retired.save()
    project_reviewers_sync()
    assert set(reviewers.user_set.all()) == {w.official}


def test_organisations_that_may_not_post_get_no_group(projects_world):
    w = projects_world
    assert project_editors_sync(organisation=w.station) is None
    assert project_editors_sync(organisation=w.charity_pending) is None
    assert not Group.objects.filter(name__contains=w.station.name).exists()


def test_membership_add_puts_new_staff_in_the_group_after_commit(
    projects_world, django_capture_on_commit_callbacks
):
    w = projects_world
    newcomer = f.user("xinren")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        membership_add(user=newcomer, role=Role.CHARITY_STAFF, organisation=w.charity2)
    assert not editors(w.charity2).user_set.filter(pk=newcomer.pk).exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert editors(w.charity2).user_set.filter(pk=newcomer.pk).exists()
    assert not editors(w.charity).user_set.filter(pk=newcomer.pk).exists()


def test_membership_add_makes_the_section_of_a_new_organisation(
    world, django_capture_on_commit_callbacks
):
    society = f.organisation(
        "胜利路社区慈善公益互助会", Organisation.Kind.MUTUAL_AID, world.street2
    )
    person = f.user("huzhu2")
    with django_capture_on_commit_callbacks(execute=True):
        membership_add(user=person, role=Role.CHARITY_STAFF, organisation=society)
    assert society.project_section.get_parent().slug == "projects"
    assert set(editors(society).user_set.all()) == {person}


def test_membership_add_of_an_official_makes_a_reviewer(
    projects_world, django_capture_on_commit_callbacks
):
    w = projects_world
    person = f.user("minzheng3")
    with django_capture_on_commit_callbacks(execute=True):
        membership_add(user=person, role=Role.CIVIL_AFFAIRS_OFFICIAL, organisation=w.civil_affairs)
    assert Group.objects.get(name=REVIEWERS_GROUP).user_set.filter(pk=person.pk).exists()


def test_membership_add_of_other_roles_changes_no_group(
    projects_world, django_capture_on_commit_callbacks
):
    w = projects_world
    person = f.user("zhiyuan9")
    with django_capture_on_commit_callbacks(execute=True):
        membership_add(user=person, role=Role.VOLUNTEER, organisation=w.federation)
    assert not person.groups.exists()


# --- The Wagtail admin --------------------------------------------------------------------


def edit_data(page, **changes):
    """The page editor's form as the browser would post it."""
    data = {
        "title": page.title,
        "slug": page.slug,
        "summary": page.summary,
        "service_types": [t.pk for t in page.service_types.all()],
        "streets": [s.pk for s in page.streets.all()],
        "budget": str(page.budget),
        "capacity": str(page.capacity),
        "starts_on": page.starts_on.isoformat(),
        "ends_on": page.ends_on.isoformat(),
        "eligibility": page.eligibility,
        "contact_name": page.contact_name,
        "contact_phone": page.contact_phone,
        "body": rich_text(page.body or "<p>详情</p>"),
        "comments-TOTAL_FORMS": "0",
        "comments-INITIAL_FORMS": "0",
        "comments-MIN_NUM_FORMS": "0",
        "comments-MAX_NUM_FORMS": "1000",
    }
    for kind in ("gives_funds", "gives_goods", "gives_services"):
        if getattr(page, kind):
            data[kind] = "on"
    data.update(changes)
    return data


def test_staff_work_in_their_own_section(projects_world, make_project, login):
    w = projects_world
    page = make_project()
    section = w.sections[w.charity.pk]
    client = login(w.charity_staff)
    assert client.get("/admin/").status_code == 200
    assert client.get(f"/admin/pages/{page.pk}/edit/").status_code == 200
    assert client.get(f"/admin/pages/add/charity/projectpage/{section.pk}/").status_code == 200
    response = client.post(
        f"/admin/pages/{page.pk}/edit/", edit_data(page, title="困难老人助餐服务（第二期）")
    )
    assert response.status_code == 302
    page.refresh_from_db()
    assert page.draft_title == "困难老人助餐服务（第二期）"
    assert not page.live


def test_admin_form_shows_the_projects_rules_in_chinese(projects_world, make_project, login):
    w = projects_world
    page = make_project()
    client = login(w.charity_staff)
    data = edit_data(page, budget="100.123", contact_phone="110")
    data.pop("gives_services")
    response = client.post(f"/admin/pages/{page.pk}/edit/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "请至少选择一种提供内容：资金、物资或服务。" in body
    assert "请输入11位手机号码，或带区号的固定电话。" in body
    page.refresh_from_db()
    assert page.get_latest_revision().content["budget"] == "12000.50"


def test_staff_cannot_publish_directly(projects_world, make_project, login):
    w = projects_world
    page = make_project()
    client = login(w.charity_staff)
    client.post(f"/admin/pages/{page.pk}/edit/", edit_data(page, **{"action-publish": "1"}))
    page.refresh_from_db()
    assert not page.live
    assert not page.permissions_for_user(w.charity_staff).can_publish()
    # Submitting instead sends it to review, still unpublished.
    client.post(f"/admin/pages/{page.pk}/edit/", edit_data(page, **{"action-submit": "1"}))
    page.refresh_from_db()
    assert not page.live
    assert page.workflow_in_progress
    assert page.current_workflow_state.workflow.name == "民政审核"


def test_staff_cannot_change_their_section_itself(projects_world, login):
    w = projects_world
    section = w.sections[w.charity.pk]
    client = login(w.charity_staff)
    assert client.get(f"/admin/pages/{section.pk}/edit/").status_code in REFUSED
    client.post(f"/admin/pages/{section.pk}/edit/", {"title": "改名", "slug": section.slug})
    section.refresh_from_db()
    assert section.title == w.charity.name and section.draft_title == w.charity.name
    assert client.get(f"/admin/pages/{section.pk}/delete/").status_code in REFUSED
    client.post(f"/admin/pages/{section.pk}/delete/")
    assert Page.objects.filter(pk=section.pk).exists()


def test_another_organisations_staff_are_refused_everywhere(projects_world, make_project, login):
    w = projects_world
    page = make_project()
    published = make_project(title="冬季送温暖物资", gives_goods=True, publish=True)
    section = w.sections[w.charity.pk]
    own_section = w.sections[w.charity2.pk]
    client = login(w.charity2_staff)
    for target in (page, published):
        for url in (
            f"/admin/pages/{target.pk}/edit/",
            f"/admin/pages/{target.pk}/delete/",
            f"/admin/pages/{target.pk}/copy/",
            f"/admin/pages/{target.pk}/move/",
            f"/admin/pages/{target.pk}/move/{own_section.pk}/confirm/",
            f"/admin/pages/{target.pk}/unpublish/",
            f"/admin/pages/{target.pk}/privacy/",
        ):
            assert client.get(url).status_code in REFUSED, url
    assert client.get(f"/admin/pages/add/charity/projectpage/{section.pk}/").status_code in REFUSED
    assert client.get(f"/admin/pages/{section.pk}/add_subpage/").status_code in REFUSED

    count = ProjectPage.objects.count()
    before = page.get_latest_revision().pk
    assert (
        client.post(f"/admin/pages/{page.pk}/edit/", edit_data(page, title="被篡改")).status_code
        in REFUSED
    )
    assert client.post(f"/admin/pages/{page.pk}/delete/").status_code in REFUSED
    assert (
        client.post(f"/admin/pages/{published.pk}/move/{own_section.pk}/confirm/").status_code
        in REFUSED
    )
    assert (
        client.post(
            f"/admin/pages/{page.pk}/copy/",
            {"new_title": "复制", "new_slug": "fuzhi", "new_parent_page": own_section.pk},
        ).status_code
        in REFUSED
    )
    assert (
        client.post(
            f"/admin/pages/add/charity/projectpage/{section.pk}/",
            edit_data(page, title="冒名项目", slug="maoming"),
        ).status_code
        in REFUSED
    )
    assert client.post(f"/admin/pages/{published.pk}/unpublish/").status_code in REFUSED

    assert ProjectPage.objects.count() == count
    page.refresh_from_db()
    published.refresh_from_db()
    assert page.title == "困难老人助餐服务" and page.get_latest_revision().pk == before
    assert published.live and published.get_parent().pk == section.pk
    assert not ProjectPage.objects.filter(title__in=["复制", "冒名项目", "被篡改"]).exists()


def test_staff_cannot_move_or_copy_their_page_into_another_section(
    projects_world, make_project, login
):
    w = projects_world
    page = make_project()
    other_section = w.sections[w.charity2.pk]
    client = login(w.charity_staff)
    assert (
        client.post(f"/admin/pages/{page.pk}/move/{other_section.pk}/confirm/").status_code
        in REFUSED
    )
    client.post(
        f"/admin/pages/{page.pk}/copy/",
        {"new_title": "复制", "new_slug": "fuzhi", "new_parent_page": other_section.pk},
    )
    page.refresh_from_db()
    assert page.get_parent().pk == w.sections[w.charity.pk].pk
    assert not ProjectPage.objects.filter(organisation=w.charity2).exists()


def test_roles_without_a_section_cannot_use_the_admin(projects_world, make_project, login):
    w = projects_world
    page = make_project()
    for role in (Role.VOLUNTEER, Role.STREET_OFFICIAL, Role.APPLICANT, Role.AUDITOR):
        client = login(w.users[role])
        assert client.get(f"/admin/pages/{page.pk}/edit/").status_code in REFUSED
    page.refresh_from_db()
    assert page.title == "困难老人助餐服务"
