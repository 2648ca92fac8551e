"""Publishing goes through civil affairs: submitted projects wait unpublished; a reviewer
approves (published) or requests changes with a comment (still unpublished)."""

import pytest
from django.core.exceptions import ValidationError
from wagtail.models import TaskState, WorkflowState

from charity.models import ProjectPage
from charity.selectors import project_list_public
from charity.services import project_approve, project_request_changes, project_submit
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Role

pytestmark = pytest.mark.django_db


def test_submitted_project_waits_unpublished(projects_world, make_project):
    page = make_project(submit=True)
    page.refresh_from_db()
    assert not page.live
    state = page.current_workflow_state
    assert state.status == WorkflowState.STATUS_IN_PROGRESS
    assert state.workflow.name == "民政审核"
    assert state.current_task_state.task.name == "区民政局审核"
    assert not project_list_public().filter(pk=page.pk).exists()


def test_civil_affairs_approves_and_the_project_is_published(projects_world, make_project):
    w = projects_world
    page = make_project(submit=True)
    page = project_approve(page=page, by=w.official, comment="材料齐全")
    assert page.live and page.first_published_at
    assert page.current_workflow_state is None
    task_state = TaskState.objects.get(workflow_state__in=page.workflow_states)
    assert task_state.status == TaskState.STATUS_APPROVED
    assert task_state.finished_by == w.official and task_state.comment == "材料齐全"
    assert list(project_list_public()) == [page]


def test_only_civil_affairs_may_approve(projects_world, make_project):
    w = projects_world
    page = make_project(submit=True)
    for user in (w.charity_staff, w.charity2_staff, w.users[Role.STREET_OFFICIAL]):
        with pytest.raises(NotPermitted):
            project_approve(page=page, by=user)
    page.refresh_from_db()
    assert not page.live and page.workflow_in_progress


def test_approving_a_project_not_in_review_is_refused(projects_world, make_project):
    w = projects_world
    page = make_project()
    with pytest.raises(InvalidState):
        project_approve(page=page, by=w.official)
    with pytest.raises(InvalidState):
        project_submit(page=make_project(submit=True), by=w.charity_staff)


def test_request_changes_keeps_it_unpublished_with_the_comment(projects_world, make_project):
    w = projects_world
    page = make_project(submit=True)
    with pytest.raises(ValidationError) as exc:
        project_request_changes(page=page, by=w.official, comment="  ")
    assert exc.value.message_dict["comment"] == ["退回修改时请写明需要修改的内容。"]
    page = project_request_changes(page=page, by=w.official, comment="请写明受助条件中的收入标准。")
    assert not page.live
    state = page.workflow_states.get()
    assert state.status == WorkflowState.STATUS_NEEDS_CHANGES
    task_state = state.current_task_state
    assert task_state.status == TaskState.STATUS_REJECTED
    assert task_state.comment == "请写明受助条件中的收入标准。"
    assert not project_list_public().exists()


def _action_url(page, action):
    task_state = page.current_workflow_state.current_task_state
    return f"/admin/pages/workflow/action/{page.pk}/{action}/{task_state.pk}/"


def test_approve_through_the_admin(projects_world, make_project, login):
    w = projects_world
    page = make_project(submit=True)
    url = _action_url(page, "approve")
    # The organisation's own staff have no approve action.
    assert login(w.charity_staff).post(url, {"comment": ""}).status_code in (302, 403)
    page.refresh_from_db()
    assert not page.live
    client = login(w.official)
    assert client.get("/admin/").status_code == 200
    assert client.get(f"/admin/pages/{page.pk}/edit/").status_code == 200
    assert client.post(url, {"comment": "同意发布"}).status_code == 302
    page.refresh_from_db()
    assert page.live
    assert TaskState.objects.get(workflow_state__in=page.workflow_states).comment == "同意发布"


def test_request_changes_through_the_admin(projects_world, make_project, login):
    w = projects_world
    page = make_project(submit=True)
    client = login(w.official)
    response = client.post(_action_url(page, "reject"), {"comment": "预算明细不清楚，请补充。"})
    assert response.status_code == 302
    page.refresh_from_db()
    assert not page.live
    state = page.workflow_states.get()
    assert state.status == WorkflowState.STATUS_NEEDS_CHANGES
    assert state.current_task_state.comment == "预算明细不清楚，请补充。"


def test_resubmitted_after_changes_then_approved(projects_world, make_project):
    w = projects_world
    page = make_project(submit=True)
    project_request_changes(page=page, by=w.official, comment="请补充联系人。")
    page = ProjectPage.objects.get(pk=page.pk)
    page.contact_name = "李老师"
    page.save_revision(user=w.charity_staff)
    page.current_workflow_state.resume(user=w.charity_staff)
    page = project_approve(page=ProjectPage.objects.get(pk=page.pk), by=w.official)
    assert page.live and page.contact_name == "李老师"


def test_an_edit_of_a_published_project_waits_for_review(projects_world, make_project):
    w = projects_world
    page = make_project(publish=True)
    page = ProjectPage.objects.get(pk=page.pk)
    page.summary = "改过的简介"
    page.save_revision(user=w.charity_staff)
    project_submit(page=page, by=w.charity_staff)
    page.refresh_from_db()
    assert page.live and page.summary == "为独居、高龄的困难老人每天送一餐热饭。"
    page = project_approve(page=page, by=w.official)
    assert page.summary == "改过的简介"
