"""Civil affairs edits the approval rules in the admin: the civil-affairs admin group
("区民政局审核", the active civil-affairs officials) may view, add, change and delete them."""

from django.db import migrations

GROUP = "区民政局审核"


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes.ContentType")
    Permission = apps.get_model("auth.Permission")
    Group = apps.get_model("auth.Group")
    group, _ = Group.objects.get_or_create(name=GROUP)
    content_type, _ = ContentType.objects.get_or_create(app_label="matching", model="approvalrule")
    for action in ("view", "add", "change", "delete"):
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_approvalrule",
            defaults={"name": f"Can {action} approval rule"},
        )
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0002_default_approval_rules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
