"""`docker compose up`: refuses to start without a secret key and allowed hosts, and passes
`manage.py check --deploy --fail-level WARNING`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# No defaults: a missing variable stops the process with ImproperlyConfigured.
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

DEMO_DATA_ALLOWED = False
# Sensitive data keys must be set apart from the secret key (see README, "Sensitive data").
SENSITIVE_DATA_KEYS = env("SENSITIVE_DATA_KEYS")
SENSITIVE_DATA_KEY_ID = env("SENSITIVE_DATA_KEY_ID")
SENSITIVE_DATA_HASH_KEY = env("SENSITIVE_DATA_HASH_KEY")

STORAGES["staticfiles"] = {
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}

# TLS ends at the proxy in front of nginx, which forwards the scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"  # Wagtail marks its own preview views same-origin
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=1)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
