"""Settings shared by every mode. Everything that differs between machines comes from the
environment (django-environ); with no variables set the project runs embedded: SQLite,
in-memory channel layer and cache, Celery tasks in-process, search through the database."""

import base64
import hashlib
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="django-insecure-embedded-default-only-for-local-use-and-tests",
)
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Libraries
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_celery_beat",
    "channels",
    "axes",
    # The product
    "marketplace",
    "cms",
    "matching",
    "volunteers",
    "charity",
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Must stay last: it turns lockouts raised during authentication into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.roles",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections leaked under the ASGI server; keep them off unless pooled.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="wushe"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Measured: the pub/sub layer round-trips in ~0.12 ms against ~0.69 ms for the
            # list-based default layer.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# Embedded mode has no broker: tasks run in-process, after the commit that scheduled them.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Search ------------------------------------------------------------------------------
ELASTICSEARCH_URL = env("ELASTICSEARCH_URL", default="")
SEARCH_BACKEND = "elasticsearch" if ELASTICSEARCH_URL else "database"
SEARCH_INDEX_PREFIX = env("SEARCH_INDEX_PREFIX", default="wushe")
# The outbox (search/services.py): rows applied per batch; a failed row waits
# RETRY_SECONDS, doubling per attempt up to MAX_BACKOFF; one drain runs at a time for at most
# DRAIN_SECONDS, under a lock (and row lease) that expires after DRAIN_LOCK_SECONDS.
SEARCH_OUTBOX_BATCH = env.int("SEARCH_OUTBOX_BATCH", default=200)
SEARCH_OUTBOX_RETRY_SECONDS = env.int("SEARCH_OUTBOX_RETRY_SECONDS", default=10)
SEARCH_OUTBOX_MAX_BACKOFF = env.int("SEARCH_OUTBOX_MAX_BACKOFF", default=600)
SEARCH_DRAIN_SECONDS = env.int("SEARCH_DRAIN_SECONDS", default=60)
SEARCH_DRAIN_LOCK_SECONDS = env.int("SEARCH_DRAIN_LOCK_SECONDS", default=300)
# Results per page; deeper than MAX_PAGE pages is refused (Elasticsearch pages by from/size
# and stops at 10,000 results).
SEARCH_PAGE_SIZE = 20
SEARCH_MAX_PAGE = 500
# The database backend counts, facets and orders at most this many of the newest matches;
# past it the count is a lower bound. Reading every match of a word found in most of 100k
# documents took hundreds of milliseconds. ts_rank orders lists of up to SEARCH_DB_RANKED.
SEARCH_DB_CANDIDATES = env.int("SEARCH_DB_CANDIDATES", default=500)
SEARCH_DB_RANKED = env.int("SEARCH_DB_RANKED", default=100)
# PostgreSQL looks for the newest matches in windows of this many ids, growing fourfold.
SEARCH_DB_WINDOW = env.int("SEARCH_DB_WINDOW", default=2000)

# --- Authentication ----------------------------------------------------------------------
AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workbench"
LOGOUT_REDIRECT_URL = "/"

# Login attempts: five failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)

# --- Internationalisation ----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
# Sealed bid plans and delivery evidence: outside MEDIA_ROOT, never served by the web server,
# read only through views that check who asks.
PRIVATE_MEDIA_ROOT = env("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Wagtail -----------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "瑶海区五社联动社会力量服务平台"
WAGTAILADMIN_BASE_URL = env("WAGTAILADMIN_BASE_URL", default="http://127.0.0.1:8000")
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "pdf", "pptx", "rtf", "txt", "xlsx", "zip"]

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/minute", "user": "600/minute"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "瑶海区五社联动社会力量服务平台 API",
    "DESCRIPTION": "五社联动 marketplace: organisations, cases, needs and supply.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The product's API only; Wagtail's admin API is internal.
    "PREPROCESSING_HOOKS": ["marketplace.api.schema_product_endpoints"],
}

# --- Product settings --------------------------------------------------------------------
# Demo data (seed_demo) may be loaded; production turns this off.
DEMO_DATA_ALLOWED = True
DEMO_PASSWORD = "Yaohai@2021"  # noqa: S105 - documented demo logins only
# Apps that add their own demo data after the shared domain's (called with the seed report
# and the size); the shared domain itself never imports them.
DEMO_SEEDERS = [
    "volunteers.demo.volunteers_demo_seed",
    "charity.demo.charity_demo_seed",
    "marketplace.demo_procurement.procurement_demo_seed",
    "matching.demo.matching_demo_seed",
    "cms.demo.cms_demo_seed",
    # Last: the search index is built from everything seeded before it.
    "search.demo.search_demo_seed",
]
# Called after commit with `membership_id=` whenever a membership is added (the shared domain
# never imports the apps that listen).
MEMBERSHIP_LISTENERS = ["charity.services.projects.project_membership_changed"]
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@yaohai.example")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# --- Funds and disbursements (charity/) -------------------------------------------------
# A disbursement above this amount (yuan) needs two different approvers.
CHARITY_DUAL_APPROVAL_THRESHOLD = Decimal(env("CHARITY_DUAL_APPROVAL_THRESHOLD", default="5000"))
# An emergency payment made first from the reserve must be approved within this many days.
CHARITY_RESERVE_REGULARISE_DAYS = env.int("CHARITY_RESERVE_REGULARISE_DAYS", default=7)

# --- Sensitive personal data (marketplace/crypto.py) ----------------------------------
# AES-256-GCM keys as "id:base64key[,id:base64key]"; SENSITIVE_DATA_KEY_ID is the one new
# ciphertexts use, the others only decrypt (rotation: README, "Sensitive data"). Embedded mode
# derives keys from the secret key; production requires its own.
_derived = base64.urlsafe_b64encode(hashlib.sha256(f"data:{SECRET_KEY}".encode()).digest())
SENSITIVE_DATA_KEYS = env("SENSITIVE_DATA_KEYS", default=f"dev:{_derived.decode()}")
SENSITIVE_DATA_KEY_ID = env("SENSITIVE_DATA_KEY_ID", default="dev")
SENSITIVE_DATA_HASH_KEY = env(
    "SENSITIVE_DATA_HASH_KEY",
    default=base64.urlsafe_b64encode(
        hashlib.sha256(f"hash:{SECRET_KEY}".encode()).digest()
    ).decode(),
)
# Every encrypted column: (model, column, purpose). `sensitive_rekey` re-encrypts them all.
SENSITIVE_COLUMNS = [
    ("marketplace.CaseMember", "id_cipher", "case_member.id_number"),
    ("marketplace.Case", "phone_cipher", "case.phone"),
    ("volunteers.Volunteer", "id_cipher", "volunteer.id_number"),
    ("volunteers.Volunteer", "phone_cipher", "volunteer.phone"),
    ("marketplace.Organisation", "phone_cipher", "organisation.phone"),
]

# --- Cases and needs ---------------------------------------------------------------------
# An emergency (急难) need must be answered within this many hours of submission; when it is
# not, it goes to the street office, and after the second window to district civil affairs.
EMERGENCY_RESPONSE_HOURS = env.int("EMERGENCY_RESPONSE_HOURS", default=24)
EMERGENCY_DISTRICT_ESCALATION_HOURS = env.int("EMERGENCY_DISTRICT_ESCALATION_HOURS", default=12)
# A household found by a grid worker must be verified by the community within this many days.
DISCOVERY_VERIFY_DAYS = env.int("DISCOVERY_VERIFY_DAYS", default=3)
# A department has this many days to finish a referral before it is flagged overdue.
REFERRAL_DUE_DAYS = env.int("REFERRAL_DUE_DAYS", default=7)
# Uploaded authorisation letters: size cap and the kinds accepted (checked by content).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)
UPLOAD_CONTENT_TYPES = ["application/pdf", "image/jpeg", "image/png"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Government purchase of services.
# A bid's service plan: size cap and the kinds accepted (checked by content).
PROCUREMENT_PLAN_MAX_BYTES = env.int("PROCUREMENT_PLAN_MAX_BYTES", default=10 * 1024 * 1024)
PROCUREMENT_PLAN_CONTENT_TYPES = [
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
]
# The share of delivery records a performance review draws for verification visits (≥ 30%).
PROCUREMENT_SAMPLE_RATE = Decimal(env("PROCUREMENT_SAMPLE_RATE", default="0.30"))
# Red flag: bids priced within this share of the lot budget, just under it.
PROCUREMENT_PRICE_CLUSTER = Decimal(env("PROCUREMENT_PRICE_CLUSTER", default="0.03"))
# An award needs at least this many evaluators who declared no conflict.
PROCUREMENT_MIN_EVALUATORS = env.int("PROCUREMENT_MIN_EVALUATORS", default=2)
# OCDS: the prefix of every ocid this publisher issues (registered with the OCDS helpdesk).
OCDS_PREFIX = env("OCDS_PREFIX", default="ocds-yhmz01")

# Matching: cost weights of a candidate pairing (see matching/scoring.py for every key and
# its default; set only what differs) and candidate edges kept per need and role.
MATCHING_WEIGHTS: dict = {}
MATCHING_CANDIDATES = {"volunteer": 30, "social_worker": 10, "charity": 5}
# A run with at least this many needs is solved tile by tile (streets), not whole.
MATCHING_TILE_MIN_NEEDS = env.int("MATCHING_TILE_MIN_NEEDS", default=20000)
# Who approves a proposal is data: matching.ApprovalRule, edited in the admin.

CELERY_BEAT_SCHEDULE = {
    "emergency-escalate": {
        "task": "marketplace.tasks.emergency_escalate",
        "schedule": 300.0,
    },
    "monitoring-scan": {
        "task": "marketplace.tasks.monitoring_scan",
        "schedule": crontab(hour=2, minute=0),
    },
    "opportunity-remind": {
        "task": "volunteers.tasks.opportunity_remind",
        "schedule": 600.0,
    },
    "reserve-overdue-flag": {
        "task": "charity.tasks.reserve_overdue_flag",
        "schedule": 3600.0,
    },
    "tender-open-due": {
        "task": "marketplace.tasks.tender_open_due",
        "schedule": 60.0,
    },
    "award-finalise-due": {
        "task": "marketplace.tasks.award_finalise_due",
        "schedule": 600.0,
    },
    "matching-nightly": {
        "task": "matching.tasks.match_run_nightly",
        "schedule": crontab(hour=1, minute=30),
    },
    # Search: the outbox is drained after every write; this catches rows left by a broker
    # or index outage. Reconcile compares the index's counts with the domain.
    "search-outbox-drain": {
        "task": "search.tasks.search_outbox_drain",
        "schedule": 30.0,
    },
    "search-reconcile": {
        "task": "search.tasks.search_reconcile",
        "schedule": crontab(minute=17),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
