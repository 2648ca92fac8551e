"""Production settings refuse to start half-configured and pass Django's deploy checks."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SENSITIVE_VARS = ("SENSITIVE_DATA_KEYS", "SENSITIVE_DATA_KEY_ID", "SENSITIVE_DATA_HASH_KEY")


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _sensitive_env() -> dict[str, str]:
    """A complete, valid set of sensitive-data keys (two keys, the second current)."""
    return {
        "SENSITIVE_DATA_KEYS": f"k1:{_key()},k2:{_key()}",
        "SENSITIVE_DATA_KEY_ID": "k2",
        "SENSITIVE_DATA_HASH_KEY": _key(),
    }


def _run(args, **env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        and k not in SENSITIVE_VARS
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_without_secret_key():
    result = _run(["manage.py", "check"], ALLOWED_HOSTS="example.org", **_sensitive_env())
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_without_allowed_hosts():
    result = _run(
        ["manage.py", "check"], DJANGO_SECRET_KEY=secrets.token_urlsafe(50), **_sensitive_env()
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


@pytest.mark.parametrize("missing", SENSITIVE_VARS)
def test_production_refuses_without_each_sensitive_data_key(missing):
    # Embedded mode derives these from the secret key; production must never do that.
    env = _sensitive_env()
    del env[missing]
    result = _run(
        ["manage.py", "check"],
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="yaohai.example.org",
        **env,
    )
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_passes_deploy_checks():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="yaohai.example.org",
        **_sensitive_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_local_is_the_only_mode_with_debug():
    code = (
        "import importlib;"
        "print([importlib.import_module(f'config.settings.{m}').DEBUG"
        " for m in ('local','test','base')])"
    )
    result = _run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings.local")
    assert result.stdout.strip() == "[True, False, False]", result.stderr


def test_i18n_and_time_zone(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ
