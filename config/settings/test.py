"""pytest: the base settings with fast hashing and captured mail. DATABASE_URL and REDIS_URL
still select PostgreSQL and Redis, so the same suite runs on both backends."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run tasks in-process; the broker is exercised by the tests marked `redis`.
CELERY_TASK_ALWAYS_EAGER = True
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
CACHES["default"]["KEY_PREFIX"] = "wushe-test"
