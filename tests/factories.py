"""Small builders for test data. They go through the models' validation so that a test
never stands on a row the product itself would refuse."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from marketplace.demo import credit_code_for
from marketplace.models import Area, Membership, Need, Organisation, Role, ServiceType, User
from marketplace.services import MemberInput, NeedInput, case_register, need_transition
from marketplace.validators import resident_id_check_char

_seq = itertools.count(1)


def area(name: str, level: str, kind: str, parent: Area | None = None) -> Area:
    n = next(_seq)
    obj = Area(name=name, level=level, kind=kind, parent=parent, code=f"9{n:011d}")
    obj.full_clean()
    obj.save()
    return obj


def organisation(name: str, kind: str, area: Area, *, verified: bool = True, **extra):
    if kind in Organisation.NEEDS_CREDIT_CODE and "credit_code" not in extra:
        extra["credit_code"] = credit_code_for(500_000 + next(_seq))
    obj = Organisation(name=name, kind=kind, area=area, verified=verified, **extra)
    obj.full_clean()
    obj.save()
    return obj


def user(username: str, role: str | None = None, organisation: Organisation | None = None):
    obj = User.objects.create_user(
        username=username, password="pw-Test-12345", email=f"{username}@example.test"
    )
    if role:
        m = Membership(user=obj, role=role, organisation=organisation)
        m.full_clean()
        m.save()
    return obj


def resident_id(born: date | None = None, *, region: str = "340102") -> str:
    """A fresh, valid resident ID number (GB 11643-1999) for someone born on `born`."""
    born = born or date(1960, 5, 17)
    seq = f"{next(_seq) % 1000:03d}"
    first17 = f"{region}{born:%Y%m%d}{seq}"
    return first17 + resident_id_check_char(first17)


def phone() -> str:
    return f"139{next(_seq) % 100_000_000:08d}"


_phone = phone  # for builders whose `phone` argument hides the builder


def volunteer(user: User, community: Area, *, real_name: str = "志愿者", skills=(), **extra):
    """A registered volunteer for `user`, with a fresh valid ID number and phone, stored the
    way the registration service stores them."""
    from marketplace import crypto
    from marketplace.validators import resident_id_birth_date
    from volunteers.models import Volunteer

    id_number, mobile = resident_id(date(1990, 3, 8)), phone()
    obj = Volunteer(
        user=user,
        real_name=real_name,
        **crypto.sealed_id_number(id_number, purpose="volunteer.id_number"),
        birth_date=resident_id_birth_date(id_number),
        **crypto.sealed_phone(mobile, purpose="volunteer.phone"),
        home_community=community,
        **extra,
    )
    obj.full_clean()
    obj.save()
    if skills:
        obj.skills.set(skills)
    return obj


def social_worker(user: User, organisation: Organisation, *, real_name: str = "社工", **extra):
    """A social worker of an agency or 社工站 for `user`."""
    from volunteers.models import SocialWorker

    obj = SocialWorker(user=user, real_name=real_name, organisation=organisation, **extra)
    obj.full_clean()
    obj.save()
    return obj


def household(
    world,
    *,
    community=None,
    by=None,
    head="王秀兰",
    id_number=None,
    phone=None,
    urgency=Need.Urgency.NORMAL,
    description="独居老人，需要每周上门探访一次",
    kind=Need.Kind.SERVICE,
    service_type="visiting",
    amount=None,
    quantity=None,
):
    """A household with one member and a submitted need, through the real service. The
    case keeps the plain ID and phone (`full_id`, `full_phone`) so a test can search response
    bodies for them."""
    today = timezone.localdate()
    community = community or world.community
    if by is None:
        by = (
            world.users[Role.COMMUNITY_WORKER]
            if community == world.community
            else world.community_worker2
        )
    id_number = id_number or resident_id(date(1948, 6, 1))
    phone = phone or _phone()
    result = case_register(
        created_by=by,
        community=community,
        members=[MemberInput(name=head, id_number=id_number, relationship="head")],
        phone=phone,
        sensitive_consent_by=head,
        need=NeedInput(
            kind=kind,
            service_type=ServiceType.objects.get(code=service_type),
            amount=amount,
            quantity=quantity,
            window_start=today,
            window_end=today + timedelta(days=30),
            urgency=urgency,
            public_description=description,
        ),
    )
    result.case.full_id, result.case.full_phone = id_number, phone
    return result


def open_need(world, need):
    """Confirm and publish a submitted need, as civil affairs."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    need_transition(need=need, to=Need.Status.CONFIRMED, by=official)
    need_transition(need=need, to=Need.Status.OPEN, by=official)
    need.refresh_from_db()
    return need


def money_need(world, amount="3000.00", *, urgency=Need.Urgency.NORMAL, community=None):
    """A confirmed funds need (临时救助, 支出型 unless an emergency), through the services."""
    emergency = urgency == Need.Urgency.EMERGENCY
    result = household(
        world,
        community=community,
        kind=Need.Kind.FUNDS,
        service_type="temporary_emergency" if emergency else "temporary_expenditure",
        amount=Decimal(amount),
        urgency=urgency,
        description="大病住院后基本生活困难，需要临时救助金",
    )
    if emergency:
        return result.need
    return open_need(world, result.need)


def fund(organisation, kind, *, name=None, code=None, project=None):
    """A fund with its four accounts, through the ledger service."""
    from charity.services.ledger import fund_create

    n = next(_seq)
    return fund_create(
        organisation=organisation,
        kind=kind,
        name=name or f"基金{n}",
        code=code or f"fund-{n}",
        project=project,
    )


def key() -> str:
    """A fresh idempotency key, as a form would carry it."""
    return uuid.uuid4().hex
