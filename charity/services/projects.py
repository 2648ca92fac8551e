"""Writes of service projects and of who may edit and review them.

Each organisation that may offer projects (a verified charity, mutual-aid society or social
work agency) has a section under the project index and a Wagtail group, "项目编辑：<name>",
that may add and change pages in that section only. Publishing needs the civil-affairs
review workflow "民政审核", whose one task is approved by the group "区民政局审核".
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from wagtail.log_actions import log
from wagtail.models import (
    GroupApprovalTask,
    GroupPagePermission,
    Page,
    Site,
    Workflow,
    WorkflowPage,
    WorkflowTask,
)

from charity.models import ProjectPage
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Area, Membership, Organisation, Role, ServiceType, User
from marketplace.selectors import user_scope

__all__ = [
    "project_approve",
    "project_create",
    "project_editors_sync",
    "project_membership_changed",
    "project_request_changes",
    "project_review_setup_ensure",
    "project_reviewers_sync",
    "project_section_ensure",
    "project_submit",
]

SECTION_KINDS = {
    Organisation.Kind.CHARITY,
    Organisation.Kind.MUTUAL_AID,
    Organisation.Kind.AGENCY,
}
EDITOR_ROLES = {Role.CHARITY_STAFF, Role.AGENCY_STAFF}
EDITORS_PREFIX = "项目编辑："
EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page")
# Reviewers may open, correct and (through the workflow, or to take a project down)
# publish or unpublish projects; approving itself is the task's, not a page permission.
REVIEWER_PAGE_PERMISSIONS = ("change_page", "publish_page")
REVIEWERS_GROUP = "区民政局审核"
REVIEW_TASK = "区民政局审核"
REVIEW_WORKFLOW = "民政审核"
INDEX_SLUG = "projects"
INDEX_TITLE = "服务项目"
INDEX_LEAD = "慈善组织、社区慈善公益互助会和社会工作服务机构提供的资金、物资和服务项目。"


def _access_admin() -> Permission:
    return Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")


def _page_permissions(codenames: Iterable[str]) -> list[Permission]:
    return list(
        Permission.objects.filter(
            content_type__app_label="wagtailcore",
            content_type__model="page",
            codename__in=list(codenames),
        )
    )


def _project_index() -> Page:
    """The project index (a cms migration makes it); put back under the site's home page
    when a flushed database has lost it."""
    index_model = apps.get_model("cms", "ProjectIndexPage")
    index = index_model.objects.order_by("path").first()
    if index is not None:
        return index
    home = Site.objects.get(is_default_site=True).root_page
    index = index_model(title=INDEX_TITLE, slug=INDEX_SLUG, lead=INDEX_LEAD)
    home.add_child(instance=index)
    index.save_revision().publish()
    return index


def _grant(group: Group, page: Page, permissions: list[Permission]) -> None:
    for permission in permissions:
        GroupPagePermission.objects.get_or_create(group=group, page=page, permission=permission)


@transaction.atomic
def project_review_setup_ensure() -> Workflow:
    """Make sure the review workflow exists and covers the project index: the reviewers'
    group with admin access and its page permissions, the approval task and the workflow.
    Idempotent; a migration sets the same up, this puts back what a flushed database lost."""
    index = _project_index()
    reviewers, _created = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    reviewers.permissions.add(_access_admin())
    _grant(reviewers, index, _page_permissions(REVIEWER_PAGE_PERMISSIONS))
    task = GroupApprovalTask.objects.filter(name=REVIEW_TASK).first()
    if task is None:
        task = GroupApprovalTask.objects.create(name=REVIEW_TASK)
    task.groups.add(reviewers)
    workflow, _created = Workflow.objects.get_or_create(name=REVIEW_WORKFLOW)
    if not workflow.active:
        workflow.active = True
        workflow.save(update_fields=["active"])
    if not WorkflowTask.objects.filter(workflow=workflow, task=task).exists():
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.update_or_create(page=index, defaults={"workflow": workflow})
    return workflow


@transaction.atomic
def project_reviewers_sync() -> Group:
    """Make the reviewers' group exactly the active civil-affairs officials."""
    project_review_setup_ensure()
    reviewers = Group.objects.get(name=REVIEWERS_GROUP)
    officials = User.objects.filter(
        is_active=True, memberships__role=Role.CIVIL_AFFAIRS_OFFICIAL
    ).distinct()
    reviewers.user_set.set(officials)
    return reviewers


def _editors_group(section: Page, organisation: Organisation) -> Group:
    name = f"{EDITORS_PREFIX}{organisation.name}"[:150]
    # Found by its permission on the section, so a renamed organisation keeps its group.
    group = Group.objects.filter(
        page_permissions__page=section, name__startswith=EDITORS_PREFIX
    ).first()
    if group is None:
        group, _created = Group.objects.get_or_create(name=name)
    elif group.name != name:
        group.name = name
        group.save(update_fields=["name"])
    return group


def _may_have_section(organisation: Organisation) -> bool:
    return organisation.verified and organisation.kind in SECTION_KINDS


@transaction.atomic
def project_section_ensure(*, organisation: Organisation) -> Page:
    """The organisation's section under the project index and its editors' group, made if
    missing: the group may use the admin and add and change pages in the section, but not
    publish them. Only a verified charity, mutual-aid society or agency has a section."""
    if not _may_have_section(organisation):
        raise InvalidState(
            _("只有已认证的慈善组织、社区慈善公益互助会或社会工作服务机构可以发布服务项目。"),
            code="project_section_refused",
        )
    section_model = apps.get_model("cms", "ProjectSectionPage")
    section = section_model.objects.filter(organisation=organisation).first()
    if section is None:
        project_review_setup_ensure()
        index = _project_index()
        section = section_model(
            title=organisation.name, slug=f"org-{organisation.pk}", organisation=organisation
        )
        index.add_child(instance=section)
        # Live, so that editors without publish permission can neither delete nor move it.
        section.save_revision().publish()
    group = _editors_group(section, organisation)
    group.permissions.add(_access_admin())
    _grant(group, section, _page_permissions(EDITOR_PAGE_PERMISSIONS))
    return section


@transaction.atomic
def project_editors_sync(*, organisation: Organisation) -> Group | None:
    """Make the organisation's editors' group exactly its active charity and agency staff.
    Returns the group, or None for an organisation that may not have a section."""
    if not _may_have_section(organisation):
        return None
    section = project_section_ensure(organisation=organisation)
    group = _editors_group(section, organisation)
    staff = User.objects.filter(
        is_active=True,
        memberships__organisation=organisation,
        memberships__role__in=EDITOR_ROLES,
    ).distinct()
    group.user_set.set(staff)
    return group


def project_membership_changed(*, membership_id: int) -> None:
    """Keep the Wagtail groups in step after a membership is added (called after commit):
    the organisation's editors, or the reviewers for a civil-affairs official. Returns
    quietly when the membership is gone."""
    membership = Membership.objects.select_related("organisation").filter(pk=membership_id).first()
    if membership is None:
        return
    if membership.role == Role.CIVIL_AFFAIRS_OFFICIAL:
        project_reviewers_sync()
    elif membership.role in EDITOR_ROLES and membership.organisation is not None:
        project_editors_sync(organisation=membership.organisation)


def _check_staff(*, user: User, organisation: Organisation) -> None:
    scope = user_scope(user=user)
    is_staff = any(
        m.organisation_id == organisation.pk and m.role in EDITOR_ROLES for m in scope.memberships
    )
    if not (user.is_active and is_staff):
        raise NotPermitted(_("只有本组织的工作人员可以发布该组织的服务项目。"))


@transaction.atomic
def project_create(
    *,
    organisation: Organisation,
    owner: User,
    title: str,
    summary: str,
    budget: Decimal,
    capacity: int,
    starts_on: datetime.date,
    ends_on: datetime.date,
    eligibility: str,
    contact_name: str,
    contact_phone: str,
    streets: Iterable[Area],
    gives_funds: bool = False,
    gives_goods: bool = False,
    gives_services: bool = False,
    service_types: Iterable[ServiceType] = (),
    body: str = "",
    submit: bool = False,
) -> ProjectPage:
    """Create a project as an unpublished draft in the organisation's section, owned by a
    staff member of that organisation; with `submit`, send it to civil-affairs review."""
    _check_staff(user=owner, organisation=organisation)
    streets = list(streets)
    if not streets:
        raise ValidationError({"streets": _("请至少选择一个覆盖街道。")})
    if any(area.level != Area.Level.STREET for area in streets):
        raise ValidationError({"streets": _("覆盖范围只能选择街道/镇/开发区。")})
    section = project_section_ensure(organisation=organisation)
    project_editors_sync(organisation=organisation)
    page = ProjectPage(
        title=title.strip(),
        summary=summary,
        gives_funds=gives_funds,
        gives_goods=gives_goods,
        gives_services=gives_services,
        budget=budget,
        capacity=capacity,
        starts_on=starts_on,
        ends_on=ends_on,
        eligibility=eligibility.strip(),
        contact_name=contact_name.strip(),
        contact_phone=contact_phone,
        body=body,
        owner=owner,
        live=False,
    )
    page.service_types = list(service_types)
    page.streets = streets
    # Checked before the page takes its place: the section gives the organisation and the
    # slug is made from the title among the section's pages.
    page.full_clean(exclude=["organisation", "slug", "path", "depth", "url_path"])
    section.add_child(instance=page)
    page.save_revision(user=owner)
    log(instance=page, action="wagtail.create", user=owner)
    if submit:
        project_submit(page=page, by=owner)
    return page


@transaction.atomic
def project_submit(*, page: ProjectPage, by: User) -> None:
    """Send the project's latest revision to civil-affairs review, as its organisation's
    staff member `by`."""
    _check_staff(user=by, organisation=page.organisation)
    if page.workflow_in_progress:
        raise InvalidState(_("该项目已在审核中。"), code="project_in_review")
    workflow = page.get_workflow()
    if workflow is None:
        workflow = project_review_setup_ensure()
    if page.get_latest_revision() is None:
        page.save_revision(user=by)
    workflow.start(page, by)


def _review_task_state(page: Page):
    state = page.current_workflow_state
    task_state = state.current_task_state if state is not None else None
    if task_state is None:
        raise InvalidState(_("该项目不在审核中。"), code="project_not_in_review")
    return task_state


def _check_reviewer(by: User) -> None:
    if not (by.is_active and user_scope(user=by).has(Role.CIVIL_AFFAIRS_OFFICIAL)):
        raise NotPermitted(_("只有区民政局工作人员可以审核服务项目。"))
    if not by.groups.filter(name=REVIEWERS_GROUP).exists():
        project_reviewers_sync()


@transaction.atomic
def project_approve(*, page: Page, by: User, comment: str = "") -> ProjectPage:
    """Approve the project's current review task as civil-affairs official `by`; the last
    approval publishes the submitted revision."""
    _check_reviewer(by)
    task_state = _review_task_state(page)
    task_state.task.specific.on_action(task_state, by, "approve", comment=comment.strip())
    return ProjectPage.objects.get(pk=page.pk)


@transaction.atomic
def project_request_changes(*, page: Page, by: User, comment: str) -> ProjectPage:
    """Send the project back to its organisation with a comment saying what to change."""
    _check_reviewer(by)
    comment = comment.strip()
    if not comment:
        raise ValidationError({"comment": _("退回修改时请写明需要修改的内容。")})
    task_state = _review_task_state(page)
    task_state.task.specific.on_action(task_state, by, "reject", comment=comment)
    return ProjectPage.objects.get(pk=page.pk)
