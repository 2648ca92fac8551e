"""Protection of sensitive personal data (PIPL, GB/T 35273).

Resident ID numbers and phone numbers are stored three ways, never in plain text:
- ciphertext: AES-256-GCM with a random 96-bit nonce; the field's name is bound as
  associated data, so a ciphertext cannot be moved to another field and still decrypt;
- a keyed hash (HMAC-SHA256) for exact lookups ("is this ID already on file?");
- the masked form shown on pages (`340102********1234`, `138****5678`).

Keys come from settings. A ciphertext starts with the id of the key that made it, so keys
can be rotated: add a new key, make it current, run `manage.py sensitive_rekey`, then retire
the old one (README, "Sensitive data").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


def _decode_key(raw: str, *, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: not base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name}: a key must be 32 bytes (256 bits)")
    return key


@lru_cache(maxsize=8)
def _keys(spec: str) -> dict[str, bytes]:
    keys = {}
    for part in spec.split(","):
        key_id, sep, raw = part.strip().partition(":")
        if not sep or not key_id or not raw:
            raise ImproperlyConfigured("SENSITIVE_DATA_KEYS: expected id:base64key[,id:key]")
        keys[key_id] = _decode_key(raw, name=f"SENSITIVE_DATA_KEYS[{key_id}]")
    return keys


def _current() -> tuple[str, bytes]:
    keys = _keys(settings.SENSITIVE_DATA_KEYS)
    key_id = settings.SENSITIVE_DATA_KEY_ID
    if key_id not in keys:
        raise ImproperlyConfigured(f"SENSITIVE_DATA_KEY_ID {key_id!r} is not in the key list")
    return key_id, keys[key_id]


def generate_key() -> str:
    """A new random key, in the form SENSITIVE_DATA_KEYS expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def encrypt(value: str, *, purpose: str) -> str:
    """Ciphertext of `value` under the current key, as `key_id:base64(nonce|ct|tag)`."""
    key_id, key = _current()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), purpose.encode())
    return f"{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, purpose: str) -> str:
    """The plain value of a ciphertext made by `encrypt` for the same purpose."""
    key_id, _, body = token.partition(":")
    key = _keys(settings.SENSITIVE_DATA_KEYS).get(key_id)
    if key is None:
        raise ImproperlyConfigured(f"no key {key_id!r} to decrypt with; was it retired early?")
    raw = base64.b64decode(body)
    return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()


def encrypt_bytes(data: bytes, *, purpose: str) -> bytes:
    """Ciphertext of a file's content: `key_id` + newline + nonce|ct|tag (for sealed
    documents, which are too large to keep as base64 text)."""
    key_id, key = _current()
    nonce = os.urandom(NONCE_BYTES)
    return key_id.encode() + b"\n" + nonce + AESGCM(key).encrypt(nonce, data, purpose.encode())


def decrypt_bytes(blob: bytes, *, purpose: str) -> bytes:
    """The plain content of a blob made by `encrypt_bytes` for the same purpose."""
    key_id, _, body = blob.partition(b"\n")
    key = _keys(settings.SENSITIVE_DATA_KEYS).get(key_id.decode())
    if key is None:
        raise ImproperlyConfigured(f"no key {key_id!r} to decrypt with; was it retired early?")
    return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], purpose.encode())


def key_id_of(token: str) -> str:
    """Which key made a ciphertext (for rotation)."""
    return token.partition(":")[0]


def lookup_hash(value: str, *, purpose: str) -> str:
    """Keyed hash for exact lookups; equal values of one purpose give equal hashes."""
    key = _decode_key(settings.SENSITIVE_DATA_HASH_KEY, name="SENSITIVE_DATA_HASH_KEY")
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """`340102********1234`: region and last four only."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """`138****5678`."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def sealed_id_number(number: str, *, purpose: str) -> dict[str, str]:
    """The three stored forms of a resident ID: `id_cipher`, `id_hash`, `id_masked`."""
    return {
        "id_cipher": encrypt(number, purpose=purpose),
        "id_hash": lookup_hash(number, purpose=purpose),
        "id_masked": mask_id_number(number),
    }


def sealed_phone(number: str, *, purpose: str) -> dict[str, str]:
    """The three stored forms of a phone: `phone_cipher`, `phone_hash`, `phone_masked`."""
    return {
        "phone_cipher": encrypt(number, purpose=purpose),
        "phone_hash": lookup_hash(number, purpose=purpose),
        "phone_masked": mask_phone(number),
    }
