import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from marketplace.demo import credit_code_for
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Membership, Organisation, Role
from marketplace.services import membership_add, organisation_create, organisation_verify

pytestmark = pytest.mark.django_db


def _create(world, user, **overrides):
    data = {
        "name": "新登记慈善会",
        "kind": Organisation.Kind.CHARITY,
        "area": world.community,
        "credit_code": credit_code_for(7001),
    }
    data.update(overrides)
    return organisation_create(created_by=user, **data)


def test_civil_affairs_registers_anywhere_unverified(world):
    org = _create(world, world.users[Role.CIVIL_AFFAIRS_OFFICIAL], area=world.community2)
    assert org.pk and not org.verified
    assert org.street == world.street2


def test_street_official_registers_in_own_street_only(world):
    official = world.users[Role.STREET_OFFICIAL]
    assert _create(world, official).street == world.street
    before = Organisation.objects.count()
    with pytest.raises(NotPermitted):
        _create(world, official, area=world.community2, credit_code=credit_code_for(7002))
    assert Organisation.objects.count() == before


def test_street_official_cannot_register_government_bodies(world):
    with pytest.raises(NotPermitted):
        _create(
            world,
            world.users[Role.STREET_OFFICIAL],
            kind=Organisation.Kind.STREET_OFFICE,
            area=world.street,
            credit_code="",
        )


@pytest.mark.parametrize(
    "role",
    [Role.COMMUNITY_WORKER, Role.CHARITY_STAFF, Role.VOLUNTEER, Role.APPLICANT, Role.AUDITOR],
)
def test_other_roles_cannot_register(world, role):
    with pytest.raises(NotPermitted):
        _create(world, world.users[role])


def test_bad_credit_code_changes_nothing(world):
    before = Organisation.objects.count()
    with pytest.raises(ValidationError) as exc:
        _create(world, world.users[Role.CIVIL_AFFAIRS_OFFICIAL], credit_code="12345")
    assert "credit_code" in exc.value.message_dict
    assert Organisation.objects.count() == before


def test_verify_mails_members_after_commit(world, django_capture_on_commit_callbacks):
    org = world.pending_in_street
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        organisation_verify(organisation=org, verified_by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    # Nothing is sent before commit; the mail task, the real-time push and the search
    # drain wait for it.
    assert mail.outbox == []
    assert len(callbacks) == 3
    for callback in callbacks:
        callback()
    org.refresh_from_db()
    assert org.verified and org.verified_by == world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    assert [m.to for m in mail.outbox] == [["xinsheli@example.test"]]
    assert "认证" in mail.outbox[0].subject


def test_verify_twice_is_refused(world):
    with pytest.raises(InvalidState):
        organisation_verify(
            organisation=world.charity, verified_by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
        )


@pytest.mark.parametrize("role", [Role.STREET_OFFICIAL, Role.AUDITOR, Role.CHARITY_STAFF])
def test_only_civil_affairs_verifies(world, role):
    with pytest.raises(NotPermitted):
        organisation_verify(organisation=world.charity_pending, verified_by=world.users[role])
    world.charity_pending.refresh_from_db()
    assert not world.charity_pending.verified


def test_membership_add_is_idempotent(world):
    user = world.users[Role.APPLICANT]
    first = membership_add(user=user, role=Role.VOLUNTEER, organisation=world.federation)
    again = membership_add(user=user, role=Role.VOLUNTEER, organisation=world.federation)
    assert first.pk == again.pk
    assert Membership.objects.filter(user=user, role=Role.VOLUNTEER).count() == 1


def test_membership_add_refuses_role_outside_kind(world):
    with pytest.raises(ValidationError):
        membership_add(
            user=world.users[Role.APPLICANT], role=Role.STREET_OFFICIAL, organisation=world.charity
        )
