"""The public procurement pages (政府购买服务, /procurement/) under the home page, and the
catalogue in the admin for civil affairs: the group "区民政局审核" (the active civil-affairs
officials) may add, change, delete and publish catalogue items, and change and publish the
procurement page itself (its lead)."""

import django.db.models.deletion
import wagtail.contrib.routable_page.models
from django.db import migrations, models

INDEX_TITLE = "政府购买服务"
INDEX_SLUG = "procurement"
INDEX_LEAD = (
    "瑶海区民政局政府购买社会工作服务：指导目录与服务清单、采购公告、答疑、结果公示和合同履约，"
    "每个项目另提供开放合同数据标准（OCDS）格式的数据。"
)
REVIEWERS = "区民政局审核"
CATALOGUE_PERMISSIONS = (
    ("add", "Can add 购买服务目录条目"),
    ("change", "Can change 购买服务目录条目"),
    ("delete", "Can delete 购买服务目录条目"),
    ("publish", "Can publish 购买服务目录条目"),
)
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STEPLEN = 4


def _next_step(last: str | None) -> str:
    number = int(last, 36) + 1 if last else 1
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = ALPHABET[rest] + digits
    return digits.rjust(STEPLEN, "0")


def _index(apps):
    ContentType = apps.get_model("contenttypes.ContentType")
    Page = apps.get_model("wagtailcore.Page")
    HomePage = apps.get_model("cms.HomePage")
    ProcurementIndexPage = apps.get_model("cms.ProcurementIndexPage")

    index = ProcurementIndexPage.objects.first()
    if index is not None:
        return index
    home = HomePage.objects.filter(depth=2).order_by("path").first()
    if home is None:
        return None
    last = (
        Page.objects.filter(path__startswith=home.path, depth=home.depth + 1)
        .order_by("-path")
        .values_list("path", flat=True)
        .first()
    )
    index_ct, _ = ContentType.objects.get_or_create(app_label="cms", model="procurementindexpage")
    index = ProcurementIndexPage.objects.create(
        title=INDEX_TITLE,
        draft_title=INDEX_TITLE,
        slug=INDEX_SLUG,
        content_type=index_ct,
        path=home.path + _next_step(last[-STEPLEN:] if last else None),
        depth=home.depth + 1,
        numchild=0,
        url_path=f"{home.url_path}{INDEX_SLUG}/",
        locale_id=home.locale_id,
        live=True,
        lead=INDEX_LEAD,
    )
    Page.objects.filter(pk=home.pk).update(numchild=home.numchild + 1)
    return index


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes.ContentType")
    Permission = apps.get_model("auth.Permission")
    Group = apps.get_model("auth.Group")
    GroupPagePermission = apps.get_model("wagtailcore.GroupPagePermission")

    reviewers, _ = Group.objects.get_or_create(name=REVIEWERS)
    # Django and Wagtail make model permissions after migrating; made here first so the
    # grant does not wait for a second migrate.
    item_ct, _ = ContentType.objects.get_or_create(app_label="marketplace", model="catalogueitem")
    for action, name in CATALOGUE_PERMISSIONS:
        permission, _ = Permission.objects.get_or_create(
            content_type=item_ct, codename=f"{action}_catalogueitem", defaults={"name": name}
        )
        reviewers.permissions.add(permission)

    index = _index(apps)
    if index is None:
        return
    page_ct, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="page")
    for codename, name in (("change_page", "Can change page"), ("publish_page", "Can publish")):
        permission, _ = Permission.objects.get_or_create(
            content_type=page_ct, codename=codename, defaults={"name": name}
        )
        GroupPagePermission.objects.get_or_create(
            group=reviewers, page_id=index.pk, permission=permission
        )


def backwards(apps, schema_editor):
    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    Page = apps.get_model("wagtailcore.Page")
    reviewers = Group.objects.filter(name=REVIEWERS).first()
    if reviewers is not None:
        reviewers.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="marketplace",
                codename__in=[f"{a}_catalogueitem" for a, _ in CATALOGUE_PERMISSIONS],
            )
        )
    for index in apps.get_model("cms.ProcurementIndexPage").objects.all():
        parent_path = index.path[:-STEPLEN]
        index.delete()
        parent = Page.objects.get(path=parent_path)
        Page.objects.filter(pk=parent.pk).update(numchild=parent.numchild - 1)


class Migration(migrations.Migration):

    dependencies = [
        ('cms', '0004_project_index_and_review'),
        ('wagtailcore', '0097_baselogentry_uuid_action_timestamp_indexes'),
        ('marketplace', '0005_procurement'),
        ('wagtailadmin', '0001_create_admin_access_permissions'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProcurementIndexPage',
            fields=[
                ('page_ptr', models.OneToOneField(auto_created=True, on_delete=django.db.models.deletion.CASCADE, parent_link=True, primary_key=True, serialize=False, to='wagtailcore.page')),
                ('lead', models.CharField(blank=True, max_length=255, verbose_name='导语')),
            ],
            options={
                'verbose_name': '政府购买服务',
                'verbose_name_plural': '政府购买服务',
            },
            bases=(wagtail.contrib.routable_page.models.RoutablePageMixin, 'wagtailcore.page'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
