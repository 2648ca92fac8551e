"""The catalogue's editors: every active civil-affairs official may add, change and publish
catalogue items, and nobody else; the grant is put back after a flushed database lost it."""

import pytest
from django.contrib.auth.models import Group

from marketplace.models import Role
from marketplace.services.catalogue import CATALOGUE_EDITORS, catalogue_editors_sync

pytestmark = pytest.mark.django_db

ACTIONS = ("add", "change", "delete", "publish")


def _may(user, action):
    from marketplace.models import User

    return User.objects.get(pk=user.pk).has_perm(f"marketplace.{action}_catalogueitem")


def test_officials_edit_the_catalogue_and_others_do_not(world):
    Group.objects.filter(name=CATALOGUE_EDITORS).delete()
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    assert not _may(official, "add")
    catalogue_editors_sync()
    catalogue_editors_sync()  # idempotent
    assert all(_may(official, action) for action in ACTIONS)
    assert _may(official, "add") and official.groups.filter(name=CATALOGUE_EDITORS).exists()
    for role in (Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.AUDITOR, Role.STREET_OFFICIAL):
        assert not any(_may(world.users[role], action) for action in ACTIONS), role


def test_a_lost_grant_is_put_back(world):
    group = catalogue_editors_sync()
    group.permissions.clear()
    group.user_set.clear()
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    assert not _may(official, "publish")
    catalogue_editors_sync()
    assert _may(official, "publish")
