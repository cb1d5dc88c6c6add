"""Every setting lives here and is driven by environment variables.

local.py, test.py and production.py only override. Embedded defaults: without
DATABASE_URL the database is a SQLite file; without REDIS_URL Celery runs tasks eagerly
and the cache is in-process.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def redis_url_with_db(url: str, db: int) -> str:
    """`url` (redis://host:port/N) pointing at database `db` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def cache_redis_url(broker_url: str) -> str:
    """The cache's Redis database: the broker's + 1 (its - 1 for the last, 15), never the same,
    so clearing the cache (FLUSHDB) never drops queued tasks."""
    path = urlsplit(broker_url).path.strip("/")
    db = int(path) if path.isdigit() else 0
    return redis_url_with_db(broker_url, db + 1 if db < 15 else db - 1)


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "concord-insecure-development-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "simple_history",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "django_prometheus",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "config.accounts",
    "exceptions",
    "billing",
    "partners",
    "erp_sync",
    "reconciliation",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.CorrelationIdMiddleware",
    "config.middleware.RefuseNulMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "config.middleware.SecurityAuditMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.UserTimeZoneMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Answers a locked-out sign-in (django-axes); last so it sees the flagged request.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console-home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.navigation",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "config.money_tags",
                "config.console_tags",
            ],
            "libraries": {"money": "config.money_tags"},
        },
    }
]

# Django's renderer with its select/option/input widgets in Python (config/form_renderer.py).
FORM_RENDERER = "config.form_renderer.FormRenderer"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Server-side prepared statements, for the one-event ingest path's statements only (they
    # ask for it: billing/services/bulk_write.select_bound(prepare=True)); Django's own
    # cursors bind client-side and never prepare. CONCORD_PG_PREPARE_THRESHOLD=0 turns them
    # off (a pooler that cannot hold them, e.g. PgBouncer in transaction mode before 1.21).
    # docs/decisions.md, "Prepared statements".
    _prepare_threshold = env_int("CONCORD_PG_PREPARE_THRESHOLD", 5)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            _prepare_threshold or None
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "concord.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("CONCORD_PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in -----------------------------------------------------------------------------
# django-axes watches every authenticate(): after AXES_FAILURE_LIMIT failures for one
# username (or from one address) sign-in is locked for AXES_COOLOFF_TIME (a 429 page),
# whatever the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CONCORD_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CONCORD_SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
# Behind N reverse proxies the client address is the N-th from the right of
# X-Forwarded-For; without this every sign-in would come from the proxy's address.
CONCORD_TRUSTED_PROXY_COUNT = env_int("CONCORD_TRUSTED_PROXY_COUNT", 0)
if CONCORD_TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = CONCORD_TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
AXES_VERBOSE = False  # our own security events log sign-ins (config/accounts/audit.py)
# A session ends after this much idle time: every request moves the expiry forward.
SESSION_COOKIE_AGE = env_int("CONCORD_SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
# Two-factor sign-in (TOTP, django-otp): when on, people who may approve settlements or
# configure the ERP must enrol and verify a code at every sign-in; others verify if they
# enrolled. Off in the demo and tests, on in production.
CONCORD_TWO_FACTOR = env_bool("CONCORD_TWO_FACTOR", False)
CONCORD_TWO_FACTOR_PERMISSIONS = (
    "partners.approve_settlement",
    "erp_sync.change_connection",
    "erp_sync.change_mappingrule",
)
OTP_TOTP_ISSUER = "Concord"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic writes (production); unset here so WhiteNoise does not look for it.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
# WhiteNoise serves static files. Here from the source folders (no collectstatic for the
# demo and tests); production collects them under hashed, compressed names (production.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Content Security Policy (django-csp): only our own scripts, styles and images --------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REDIS_URL = os.environ.get("REDIS_URL", "")
# The broker uses REDIS_URL's database; the cache another one (CACHE_URL, else REDIS_URL's
# database + 1), so a cache clear never drops queued tasks.
CACHE_URL = os.environ.get("CACHE_URL", "") or (cache_redis_url(REDIS_URL) if REDIS_URL else "")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
# Keep a worker's database connection across tasks (Celery's Django fix-up closes it after
# every task otherwise: a new PostgreSQL session per ERP post).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# A retry countdown must never exceed this: past it Redis redelivers the unacked message.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # How often a worker looks for messages unacknowledged past the visibility timeout (every
    # interval x throttle seconds: kombu's defaults, 10 x 10); the redelivery drill shortens it.
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
CELERY_TASK_DEFAULT_QUEUE = "events"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.ApiClientAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.DecimalJSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_client": os.environ.get("API_CLIENT_RATE", "6000/min")},
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.ConcordAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": "Canonical finance events in; ERP postings, partner settlements and "
    'reconciliation out. Errors are {"errors": [{field, code, message}]}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Named enums: without them the "state" enums collide (a warning that fails
    # `check --deploy --fail-level WARNING`).
    "ENUM_NAME_OVERRIDES": {
        "FinanceEventStateEnum": "billing.choices.FinanceEventState",
        "SubscriptionStateEnum": "billing.choices.SubscriptionState",
        "InvoiceStateEnum": "billing.choices.InvoiceState",
        "SyncJobStateEnum": "erp_sync.choices.SyncJobState",
        "CaseStateEnum": "exceptions.models.CaseState",
        "CaseKindEnum": "exceptions.kinds.CaseKind",
        "AgreementStateEnum": "partners.choices.AgreementState",
        "SettlementStateEnum": "partners.choices.SettlementState",
        "ReconciliationRunStateEnum": "reconciliation.choices.RunState",
        "CircuitStateEnum": "erp_sync.choices.CircuitState",
        "BreakStateEnum": "reconciliation.choices.BreakState",
    },
}

# --- Logging: JSON lines carrying the correlation id ---------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation": {"()": "config.correlation.CorrelationIdLogFilter"},
        "one_line_refusal": {"()": "config.log_filters.OneLineRefusal"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A 403 logs one line, not a traceback (config/log_filters.py).
        "django.request": {"filters": ["one_line_refusal"]},
        # One INFO line per task succeeded is noise; failures still log at WARNING/ERROR.
        "celery.app.trace": {"level": "WARNING"},
    },
}

# --- Concord -------------------------------------------------------------------------------
CONCORD_EVENT_BATCH_MAX = 1000
# Seconds a process remembers a verified API token (config/api/authentication.py): another
# process refuses a revoked client within this time. 0: check the token on every request.
CONCORD_API_KEY_CACHE_SECONDS = int(os.environ.get("CONCORD_API_KEY_CACHE_SECONDS", "5"))
# SLA hours by case severity.
CONCORD_CASE_SLA_HOURS = {"critical": 4, "high": 24, "medium": 72, "low": 168}
# Case escalations are e-mailed through Django's mail backend (console unless configured).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "concord@localhost")
# The group a new case is routed to when its kind has no owner row (exceptions.CaseKindOwner,
# edited by an admin); blank: none.
CONCORD_CASE_DEFAULT_GROUP = os.environ.get("CONCORD_CASE_DEFAULT_GROUP", "finance_ops")
# How long an event quarantined only because a record it names has not arrived yet waits for
# it (re-applied automatically when it arrives); past this its case escalates.
CONCORD_AWAIT_WINDOW_DAYS = env_int("CONCORD_AWAIT_WINDOW_DAYS", 7)
# /metrics answers only `Authorization: Bearer <CONCORD_METRICS_TOKEN>` or a peer address in
# CONCORD_METRICS_ALLOWED_IPS (comma-separated addresses or networks); else 403.
CONCORD_METRICS_TOKEN = os.environ.get("CONCORD_METRICS_TOKEN", "")
CONCORD_METRICS_ALLOWED_IPS = [
    a.strip() for a in os.environ.get("CONCORD_METRICS_ALLOWED_IPS", "").split(",") if a.strip()
]
CONCORD_ERP_DEFAULT_ADAPTER = os.environ.get("CONCORD_ERP_DEFAULT_ADAPTER", "sandbox")
