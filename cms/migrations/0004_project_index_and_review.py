"""The project index under the home page (服务项目, /projects/) and its review: the group
"区民政局审核" (admin access, change and publish on the index), its approval task and the
workflow "民政审核" assigned to the index, so every project goes through civil affairs."""

from django.db import migrations

INDEX_TITLE = "服务项目"
INDEX_LEAD = "慈善组织、社区慈善公益互助会和社会工作服务机构提供的资金、物资和服务项目。"
REVIEWERS = "区民政局审核"
TASK = "区民政局审核"
WORKFLOW = "民政审核"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STEPLEN = 4


def _next_step(last: str | None) -> str:
    number = int(last, 36) + 1 if last else 1
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = ALPHABET[rest] + digits
    return digits.rjust(STEPLEN, "0")


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes.ContentType")
    Permission = apps.get_model("auth.Permission")
    Group = apps.get_model("auth.Group")
    Page = apps.get_model("wagtailcore.Page")
    GroupPagePermission = apps.get_model("wagtailcore.GroupPagePermission")
    GroupApprovalTask = apps.get_model("wagtailcore.GroupApprovalTask")
    Workflow = apps.get_model("wagtailcore.Workflow")
    WorkflowTask = apps.get_model("wagtailcore.WorkflowTask")
    WorkflowPage = apps.get_model("wagtailcore.WorkflowPage")
    HomePage = apps.get_model("cms.HomePage")
    ProjectIndexPage = apps.get_model("cms.ProjectIndexPage")

    home = HomePage.objects.filter(depth=2).order_by("path").first()
    if home is None:
        return
    index = ProjectIndexPage.objects.first()
    if index is None:
        last = (
            Page.objects.filter(path__startswith=home.path, depth=home.depth + 1)
            .order_by("-path")
            .values_list("path", flat=True)
            .first()
        )
        index_ct, _ = ContentType.objects.get_or_create(
            app_label="cms", model="projectindexpage"
        )
        index = ProjectIndexPage.objects.create(
            title=INDEX_TITLE,
            draft_title=INDEX_TITLE,
            slug="projects",
            content_type=index_ct,
            path=home.path + _next_step(last[-STEPLEN:] if last else None),
            depth=home.depth + 1,
            numchild=0,
            url_path=f"{home.url_path}projects/",
            locale_id=home.locale_id,
            live=True,
            lead=INDEX_LEAD,
        )
        Page.objects.filter(pk=home.pk).update(numchild=home.numchild + 1)

    admin_ct, _ = ContentType.objects.get_or_create(app_label="wagtailadmin", model="admin")
    access_admin, _ = Permission.objects.get_or_create(
        content_type=admin_ct,
        codename="access_admin",
        defaults={"name": "Can access Wagtail admin"},
    )
    page_ct, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="page")
    reviewers, _ = Group.objects.get_or_create(name=REVIEWERS)
    reviewers.permissions.add(access_admin)
    for codename, name in (("change_page", "Can change page"), ("publish_page", "Can publish")):
        permission, _ = Permission.objects.get_or_create(
            content_type=page_ct, codename=codename, defaults={"name": name}
        )
        GroupPagePermission.objects.get_or_create(
            group=reviewers, page_id=index.pk, permission=permission
        )

    task = GroupApprovalTask.objects.filter(name=TASK).first()
    if task is None:
        task_ct, _ = ContentType.objects.get_or_create(
            app_label="wagtailcore", model="groupapprovaltask"
        )
        task = GroupApprovalTask.objects.create(name=TASK, content_type=task_ct, active=True)
    task.groups.add(reviewers)
    workflow, _ = Workflow.objects.get_or_create(name=WORKFLOW, defaults={"active": True})
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowPage.objects.update_or_create(page_id=index.pk, defaults={"workflow": workflow})


def backwards(apps, schema_editor):
    apps.get_model("wagtailcore.Workflow").objects.filter(name=WORKFLOW).delete()
    apps.get_model("wagtailcore.Task").objects.filter(name=TASK).delete()
    apps.get_model("auth.Group").objects.filter(name=REVIEWERS).delete()
    Page = apps.get_model("wagtailcore.Page")
    for index in apps.get_model("cms.ProjectIndexPage").objects.filter(numchild=0):
        parent_path = index.path[:-STEPLEN]
        index.delete()
        parent = Page.objects.get(path=parent_path)
        Page.objects.filter(pk=parent.pk).update(numchild=parent.numchild - 1)


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0003_project_pages"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("wagtailcore", "0097_baselogentry_uuid_action_timestamp_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
