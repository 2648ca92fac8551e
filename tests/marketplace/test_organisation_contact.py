"""An organisation's legal representative and phone: the phone is stored sealed (cipher,
lookup hash, masked form) so that bidders sharing one can be found without reading it."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from marketplace import crypto
from marketplace.models import Organisation, Role
from marketplace.services.directory import ORGANISATION_PHONE, organisation_create

pytestmark = pytest.mark.django_db


_codes = itertools.count(880_000)


def _agency(world, phone, representative="王建国"):
    from marketplace.demo import credit_code_for

    return organisation_create(
        created_by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
        name=f"和美社会工作服务中心{next(_codes)}",
        kind=Organisation.Kind.AGENCY,
        area=world.street,
        credit_code=credit_code_for(next(_codes)),
        legal_representative=representative,
        phone=phone,
    )


def test_sealed_phone(world):
    org = _agency(world, "139 1234 5678", " 王 建国 ")
    assert org.legal_representative == "王建国"
    assert org.phone_masked == "139****5678"
    assert "13912345678" not in org.phone_cipher
    assert crypto.decrypt(org.phone_cipher, purpose=ORGANISATION_PHONE) == "13912345678"
    other = _agency(world, "13912345678")
    assert other.phone_hash == org.phone_hash


def test_bad_phone_is_refused_and_nothing_saved(world):
    before = Organisation.objects.count()
    with pytest.raises(ValidationError):
        _agency(world, "12345")
    assert Organisation.objects.count() == before


def test_form_shows_phone_error_in_chinese(world, login):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(
        reverse("organisation-create"),
        {"name": "新机构", "kind": "agency", "area": world.street.pk, "phone": "abc"},
    )
    assert response.status_code == 400
    assert "请输入11位手机号码" in response.content.decode()
    assert not Organisation.objects.filter(name="新机构").exists()


def test_detail_shows_only_the_masked_phone(world, client):
    org = _agency(world, "13987654321")
    org.verified = True
    org.save()
    body = client.get(org.get_absolute_url()).content.decode()
    assert "139****4321" in body and "13987654321" not in body
