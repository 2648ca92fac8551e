"""Small builders for test data. They go through the models' validation so that a test
never stands on a row the product itself would refuse."""

from __future__ import annotations

import itertools
from datetime import date

from marketplace.demo import credit_code_for
from marketplace.models import Area, Membership, Organisation, User
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
