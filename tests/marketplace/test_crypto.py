"""Protection of ID numbers and phones: AES-GCM round trip, random nonces, purpose binding,
tamper detection, masks, key settings, and key rotation through `manage.py sensitive_rekey`."""

import base64
import os
from datetime import date
from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from marketplace import crypto
from marketplace.models import Case, CaseMember, Role
from marketplace.services import MemberInput, case_register, household_find
from marketplace.services.cases import ID_PURPOSE, PHONE_PURPOSE
from tests import factories as f


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


KEY_A, KEY_B, HASH_KEY = _key(), _key(), _key()
ID_NUMBER = "34010219800101001X"


def test_round_trip():
    token = crypto.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    assert ID_NUMBER not in token
    assert crypto.decrypt(token, purpose=ID_PURPOSE) == ID_NUMBER
    assert crypto.key_id_of(token) == "dev"  # the embedded default key


def test_each_encryption_has_a_fresh_nonce():
    tokens = {crypto.encrypt("13812345678", purpose=PHONE_PURPOSE) for _ in range(20)}
    assert len(tokens) == 20
    assert {crypto.decrypt(t, purpose=PHONE_PURPOSE) for t in tokens} == {"13812345678"}


def test_ciphertext_is_bound_to_its_purpose():
    token = crypto.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    with pytest.raises(InvalidTag):
        crypto.decrypt(token, purpose=PHONE_PURPOSE)


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_tampered_ciphertext_fails(position):
    token = crypto.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    key_id, _, body = token.partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[position] ^= 0x01  # one bit of the nonce, the ciphertext or the tag
    forged = f"{key_id}:{base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(InvalidTag):
        crypto.decrypt(forged, purpose=ID_PURPOSE)


def test_lookup_hash_is_stable_keyed_and_purpose_bound():
    a = crypto.lookup_hash(ID_NUMBER, purpose=ID_PURPOSE)
    assert a == crypto.lookup_hash(ID_NUMBER, purpose=ID_PURPOSE)
    assert len(a) == 64 and ID_NUMBER not in a
    assert a != crypto.lookup_hash(ID_NUMBER, purpose=PHONE_PURPOSE)
    with override_settings(SENSITIVE_DATA_HASH_KEY=HASH_KEY):
        assert crypto.lookup_hash(ID_NUMBER, purpose=ID_PURPOSE) != a


def test_masks():
    assert crypto.mask_id_number("340102198001011234") == "340102********1234"
    assert crypto.mask_id_number(ID_NUMBER) == "340102********001X"
    assert crypto.mask_phone("13812345678") == "138****5678"
    assert crypto.mask_phone("0551-12345678") == "055******5678"
    assert crypto.mask_id_number("123") == "***"
    assert crypto.mask_phone("12345") == "*****"


def test_generated_key_is_usable():
    key = crypto.generate_key()
    with override_settings(SENSITIVE_DATA_KEYS=f"new:{key}", SENSITIVE_DATA_KEY_ID="new"):
        token = crypto.encrypt("x", purpose="p")
        assert token.startswith("new:") and crypto.decrypt(token, purpose="p") == "x"


@pytest.mark.parametrize(
    ("keys", "key_id"),
    [
        ("A:not*base64*at*all", "A"),  # not a 32-byte key
        (f"A:{base64.urlsafe_b64encode(os.urandom(16)).decode()}", "A"),  # 128 bits
        (KEY_A, "A"),  # no id
        (f"A:{KEY_A},:{KEY_B}", "A"),  # an empty id
        (f"A:{KEY_A}", "B"),  # the current key is not in the list
        ("", "A"),
    ],
)
def test_malformed_key_settings_are_refused(keys, key_id):
    with (
        override_settings(SENSITIVE_DATA_KEYS=keys, SENSITIVE_DATA_KEY_ID=key_id),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.encrypt("x", purpose="p")


@pytest.mark.parametrize("hash_key", ["", "short", base64.b64encode(b"x" * 31).decode()])
def test_malformed_hash_key_is_refused(hash_key):
    with (
        override_settings(SENSITIVE_DATA_HASH_KEY=hash_key),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.lookup_hash("x", purpose="p")


def test_decrypting_under_a_retired_key_is_refused():
    with override_settings(SENSITIVE_DATA_KEYS=f"A:{KEY_A}", SENSITIVE_DATA_KEY_ID="A"):
        token = crypto.encrypt("x", purpose="p")
    with (
        override_settings(SENSITIVE_DATA_KEYS=f"B:{KEY_B}", SENSITIVE_DATA_KEY_ID="B"),
        pytest.raises(ImproperlyConfigured, match="retired"),
    ):
        crypto.decrypt(token, purpose="p")


# --- Key rotation -------------------------------------------------------------------------

ONLY_A = {"SENSITIVE_DATA_KEYS": f"A:{KEY_A}", "SENSITIVE_DATA_KEY_ID": "A"}
A_AND_B = {"SENSITIVE_DATA_KEYS": f"A:{KEY_A},B:{KEY_B}", "SENSITIVE_DATA_KEY_ID": "B"}


def _households(world, n=3):
    values = []
    for i in range(n):
        head, child = f.resident_id(date(1970, 1, 1 + i)), f.resident_id(date(2000, 2, 1 + i))
        phone = f.phone()
        case_register(
            created_by=world.users[Role.COMMUNITY_WORKER],
            community=world.community,
            members=[
                MemberInput(name=f"户主{i}", id_number=head, relationship="head"),
                MemberInput(name=f"子女{i}", id_number=child, relationship="child"),
            ],
            phone=phone,
            category="dibao",
            income_per_capita=Decimal("500"),
            sensitive_consent_by=f"户主{i}",
        )
        values.append((head, child, phone))
    return values


def _tokens():
    return list(CaseMember.objects.values_list("id_cipher", flat=True)) + list(
        Case.objects.exclude(phone_cipher="").values_list("phone_cipher", flat=True)
    )


def test_rekey_moves_every_value_to_the_new_key(world, capsys):
    with override_settings(**ONLY_A):
        values = _households(world)
    assert all(t.startswith("A:") for t in _tokens())
    with override_settings(**A_AND_B):
        call_command("sensitive_rekey", batch_size=2)
        assert "重新加密 9 项" in capsys.readouterr().out  # 6 ID numbers + 3 phones
        assert all(t.startswith("B:") for t in _tokens())
        plain = {
            crypto.decrypt(t, purpose=ID_PURPOSE)
            for t in CaseMember.objects.values_list("id_cipher", flat=True)
        }
        assert plain == {v for head, child, _ in values for v in (head, child)}
        phones = {crypto.decrypt(c.phone_cipher, purpose=PHONE_PURPOSE) for c in Case.objects.all()}
        assert phones == {phone for *_, phone in values}
        # Hashes did not change, so lookups by ID still find the household.
        for head, child, _ in values:
            case = household_find(id_numbers=[head])
            assert case is not None and household_find(id_numbers=[child]) == case
        # Nothing left to do: a second run re-encrypts nothing.
        call_command("sensitive_rekey")
        assert "重新加密 0 项" in capsys.readouterr().out
    # With A retired, everything still decrypts.
    with override_settings(SENSITIVE_DATA_KEYS=f"B:{KEY_B}", SENSITIVE_DATA_KEY_ID="B"):
        assert all(
            crypto.decrypt(t, purpose=ID_PURPOSE)
            for t in CaseMember.objects.values_list("id_cipher", flat=True)
        )


def test_rekey_refuses_a_current_key_missing_from_the_list(world):
    with override_settings(**ONLY_A):
        _households(world, n=1)
        before = _tokens()
    with (
        override_settings(SENSITIVE_DATA_KEYS=f"A:{KEY_A}", SENSITIVE_DATA_KEY_ID="B"),
        pytest.raises(CommandError, match="SENSITIVE_DATA_KEY_ID“B”不在 SENSITIVE_DATA_KEYS 中"),
    ):
        call_command("sensitive_rekey")
    assert _tokens() == before


def test_rekey_refuses_when_an_old_key_was_retired_too_early(world):
    with override_settings(**ONLY_A):
        _households(world, n=1)
        before = _tokens()
    with (
        override_settings(SENSITIVE_DATA_KEYS=f"B:{KEY_B}", SENSITIVE_DATA_KEY_ID="B"),
        pytest.raises(CommandError, match="旧密钥须保留"),
    ):
        call_command("sensitive_rekey")
    assert _tokens() == before
