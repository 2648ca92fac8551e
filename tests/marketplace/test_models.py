import pytest
from django.core.exceptions import ValidationError

from marketplace.models import Area, Membership, Organisation, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_community_must_sit_under_a_street(world):
    bad = Area(
        name="错层社区",
        code="999",
        level=Area.Level.COMMUNITY,
        kind=Area.Kind.COMMUNITY,
        parent=world.district,
    )
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert "parent" in exc.value.message_dict


def test_kind_must_match_level(world):
    bad = Area(
        name="某镇",
        code="998",
        level=Area.Level.COMMUNITY,
        kind=Area.Kind.TOWN,
        parent=world.street,
    )
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert "kind" in exc.value.message_dict


def test_street_is_denormalised_from_area(world):
    org = f.organisation("社区互助会", Organisation.Kind.MUTUAL_AID, world.community)
    assert org.street == world.street
    assert world.community.street == world.street
    assert world.street.street == world.street
    assert world.district.street is None


def test_social_organisation_needs_a_credit_code(world):
    org = Organisation(name="无代码", kind=Organisation.Kind.CHARITY, area=world.street)
    with pytest.raises(ValidationError) as exc:
        org.full_clean()
    assert "credit_code" in exc.value.message_dict


def test_street_office_cannot_sit_in_a_community(world):
    org = Organisation(name="错位", kind=Organisation.Kind.STREET_OFFICE, area=world.community)
    with pytest.raises(ValidationError) as exc:
        org.full_clean()
    assert "area" in exc.value.message_dict


def test_duplicate_credit_code_is_refused(world):
    org = Organisation(
        name="重复",
        kind=Organisation.Kind.CHARITY,
        area=world.street,
        credit_code=world.charity.credit_code,
    )
    with pytest.raises(ValidationError) as exc:
        org.full_clean()
    assert "统一社会信用代码已被其他组织使用" in str(exc.value)


@pytest.mark.parametrize(
    ("role", "org_attr"),
    [
        (Role.STREET_OFFICIAL, "charity"),
        (Role.CHARITY_STAFF, "office"),
        (Role.APPLICANT, "charity"),
        (Role.CIVIL_AFFAIRS_OFFICIAL, None),
    ],
)
def test_role_must_fit_organisation_kind(world, role, org_attr):
    user = f.user(f"u-{role}")
    m = Membership(
        user=user, role=role, organisation=getattr(world, org_attr) if org_attr else None
    )
    with pytest.raises(ValidationError):
        m.full_clean()


def test_auditor_only_from_audit_or_discipline(world):
    housing = f.organisation(
        "住建局",
        Organisation.Kind.DEPARTMENT,
        world.district,
        department=Organisation.Department.HOUSING,
    )
    m = Membership(user=f.user("x"), role=Role.AUDITOR, organisation=housing)
    with pytest.raises(ValidationError):
        m.full_clean()
