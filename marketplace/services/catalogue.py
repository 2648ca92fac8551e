"""Who edits the purchasing catalogue: civil affairs, in the Wagtail admin (the catalogue
items are snippets with drafts, revisions and publish)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from marketplace.models import CatalogueItem, Role, User

# The admin group of civil-affairs officials (made by the cms migrations, which grant it the
# same permissions; the project review workflow uses it too).
CATALOGUE_EDITORS = "区民政局审核"
CATALOGUE_ACTIONS = {
    "add": "Can add 购买服务目录条目",
    "change": "Can change 购买服务目录条目",
    "delete": "Can delete 购买服务目录条目",
    "publish": "Can publish 购买服务目录条目",
}


@transaction.atomic
def catalogue_editors_sync() -> Group:
    """Make sure the civil-affairs admin group may reach the admin and add, change, delete
    and publish catalogue items, and that it holds every active civil-affairs official.
    Idempotent; the migration sets the same up, this puts back what a flushed database
    lost (its permissions are then made again under new ids)."""
    group, _created = Group.objects.get_or_create(name=CATALOGUE_EDITORS)
    content_type = ContentType.objects.get_for_model(CatalogueItem)
    for action, name in CATALOGUE_ACTIONS.items():
        permission, _created = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_catalogueitem",
            defaults={"name": name},
        )
        group.permissions.add(permission)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    officials = User.objects.filter(
        is_active=True, memberships__role=Role.CIVIL_AFFAIRS_OFFICIAL
    ).distinct()
    group.user_set.add(*officials)
    return group
