"""Django settings, read from the environment once at start-up; a bad value stops the process with its name."""
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_json,
    env_list,
    env_str,
    env_url,
    env_url_list,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MARACKER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG) or "insecure-development-key-only-used-with-DEBUG"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] + (["*"] if DEBUG else []))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "shared",
    "api",
    "worker",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.middleware.ProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the pages' static files, also under gunicorn
    "api.middleware.PublicListingMiddleware",  # anonymous catalog listings straight from the cache
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/maracker")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot statements of shared/statements.py run as prepared statements of the session; turn this off behind a
# pooler in transaction mode (PgBouncer), which does not keep a client on one server session.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
if env_str("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery ----------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task events feed Flower (and cost a few Redis publishes per task); on by default.
CELERY_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", True)
CELERY_WORKER_SEND_TASK_EVENTS = CELERY_TASK_EVENTS
# `task-sent` from the publisher (the web) as well: Flower then lists tasks still waiting in the queue. Off by
# default: it costs about 0.2 ms of web CPU per job request, and the job API already lists queued jobs.
CELERY_TASK_SENT_EVENTS = env_bool("CELERY_TASK_SENT_EVENTS", False)
CELERY_TASK_SEND_SENT_EVENT = CELERY_TASK_EVENTS and CELERY_TASK_SENT_EVENTS
CELERY_TASK_DEFAULT_QUEUE = "deploy"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message not acknowledged within this time is delivered again; jobs are idempotent so that is safe.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
}
CELERY_TASK_ALWAYS_EAGER = False
# Celery's Django fixup closes the database connections around every task unless they may be reused this many
# times: out of reach here, since the worker closes what is broken or older than DB_CONN_MAX_AGE around each
# task itself (worker/ops_tasks.py), as Django does around each request.
CELERY_DB_REUSE_MAX = 2**62
CACHES = {
    "default": {
        "BACKEND": "shared.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "maracker",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Marathon ---------------------------------------------------------------------------------
MARATHON_URLS = env_url_list("MARATHON_URL", ["http://127.0.0.1:8080"])
if not MARATHON_URLS:
    raise ImproperlyConfigured("MARATHON_URL must name at least one Marathon URL")
MARATHON_TOKEN = env_str("MARATHON_TOKEN")
MARATHON_VERIFY_TLS = env_bool("MARATHON_VERIFY_TLS", True)
MARATHON_CONNECT_TIMEOUT = env_float("MARATHON_CONNECT_TIMEOUT", 3.0, minimum=0.1)
MARATHON_READ_TIMEOUT = env_float("MARATHON_READ_TIMEOUT", 10.0, minimum=0.1)
MARATHON_API_VERSION = env_choice("MARATHON_API_VERSION", "1.5", {"1.4", "1.5"})
MARATHON_GROUP = "/" + env_str("MARATHON_GROUP", "/maracker").strip("/")
MARATHON_FORCE = env_bool("MARATHON_FORCE", False)

# --- One-off runs (Boutiques tools) on Metronome ---------------------------------------------------
# ONEOFF_SCHEDULER: the scheduler of `run` jobs; only Metronome (DC/OS jobs, /v1/jobs) is implemented.
# METRONOME_URL: one or more base URLs (comma-separated, HA); METRONOME_JOB_PREFIX: first segment of job ids.
# RUN_POLL_* : how a waiting run is followed: first check after the base, then every elapsed/10 s up to the max.
ONEOFF_SCHEDULER = env_choice("ONEOFF_SCHEDULER", "metronome", {"metronome"})
METRONOME_URLS = env_url_list("METRONOME_URL", ["http://127.0.0.1:8090"])
if not METRONOME_URLS:
    raise ImproperlyConfigured("METRONOME_URL must name at least one Metronome URL")
METRONOME_TOKEN = env_str("METRONOME_TOKEN")
METRONOME_VERIFY_TLS = env_bool("METRONOME_VERIFY_TLS", True)
METRONOME_CONNECT_TIMEOUT = env_float("METRONOME_CONNECT_TIMEOUT", 3.0, minimum=0.1)
METRONOME_READ_TIMEOUT = env_float("METRONOME_READ_TIMEOUT", 10.0, minimum=0.1)
METRONOME_JOB_PREFIX = env_str("METRONOME_JOB_PREFIX", "maracker").strip(".").lower()
RUN_DEADLINE_SECONDS = env_int("RUN_DEADLINE_SECONDS", 24 * 3600, minimum=1)
RUN_POLL_BASE_SECONDS = env_float("RUN_POLL_BASE_SECONDS", 2.0, minimum=0.05)
RUN_POLL_MAX_SECONDS = env_float("RUN_POLL_MAX_SECONDS", 60.0, minimum=0.05)
RUN_DISK_MB = env_int("RUN_DISK_MB", 0, minimum=0)

# --- Exposure ---------------------------------------------------------------------------------
EXPOSURE = env_choice("EXPOSURE", "host", {"host", "path"})
BASE_DOMAIN = env_str("BASE_DOMAIN", "apps.localhost")
PUBLIC_SCHEME = env_choice("PUBLIC_SCHEME", "http", {"http", "https"})
TRAEFIK_LABELS = env_choice("TRAEFIK_LABELS", "both", {"v1", "v2", "both", "none"})
TRAEFIK_ENTRYPOINT = env_str("TRAEFIK_ENTRYPOINT", "web")
MARATHON_LB = env_bool("MARATHON_LB", False)

# --- Image metadata (registry lookups, docs/IMAGE-METADATA.md) --------------------------------------
REGISTRY_CREDENTIALS = env_json("REGISTRY_CREDENTIALS", {})
if not isinstance(REGISTRY_CREDENTIALS, dict) or not all(
    isinstance(host, str) and host and isinstance(creds, dict)
    and isinstance(creds.get("username"), str) and isinstance(creds.get("password", ""), str)
    for host, creds in REGISTRY_CREDENTIALS.items()
):
    raise ImproperlyConfigured(
        'REGISTRY_CREDENTIALS must be a JSON object {"host[:port]": {"username": "...", "password": "..."}}'
    )
REGISTRY_INSECURE = env_list("REGISTRY_INSECURE", [])
REGISTRY_PLATFORM = env_str("REGISTRY_PLATFORM", "linux/amd64").strip().lower()
if not 2 <= len(REGISTRY_PLATFORM.split("/")) <= 3 or not all(REGISTRY_PLATFORM.split("/")):
    raise ImproperlyConfigured(f"REGISTRY_PLATFORM={REGISTRY_PLATFORM!r} must be os/architecture[/variant]")
REGISTRY_CONNECT_TIMEOUT = env_float("REGISTRY_CONNECT_TIMEOUT", 3.05, minimum=0.1)
REGISTRY_READ_TIMEOUT = env_float("REGISTRY_READ_TIMEOUT", 10.0, minimum=0.1)
REGISTRY_MAX_MANIFEST_BYTES = env_int("REGISTRY_MAX_MANIFEST_BYTES", 4 * 1024 * 1024, minimum=1024)
REGISTRY_MAX_CONFIG_BYTES = env_int("REGISTRY_MAX_CONFIG_BYTES", 16 * 1024 * 1024, minimum=1024)
REGISTRY_RETRIES = env_int("REGISTRY_RETRIES", 2, minimum=0, maximum=10)
REGISTRY_MAX_RETRY_AFTER = env_float("REGISTRY_MAX_RETRY_AFTER", 10.0, minimum=0)
REGISTRY_CACHE_TTL = env_int("REGISTRY_CACHE_TTL", 24 * 3600, minimum=1)
MICROBADGER_URL = env_url("MICROBADGER_URL")
METADATA_SOURCE = env_choice("METADATA_SOURCE", "registry", {"registry", "microbadger"})
if METADATA_SOURCE == "microbadger" and not MICROBADGER_URL:
    raise ImproperlyConfigured("METADATA_SOURCE=microbadger needs MICROBADGER_URL")
IMPORT_DEFAULT_CPU = env_float("IMPORT_DEFAULT_CPU", 0.1, minimum=0.001)
IMPORT_DEFAULT_MEMORY = env_int("IMPORT_DEFAULT_MEMORY", 256, minimum=32)

# --- Jobs ---------------------------------------------------------------------------------------
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 8, minimum=1)
JOB_RETRY_BASE_SECONDS = env_float("JOB_RETRY_BASE_SECONDS", 2.0, minimum=0)
JOB_RETRY_CAP_SECONDS = env_float("JOB_RETRY_CAP_SECONDS", 300.0, minimum=0)
JOB_DEADLINE_SECONDS = env_int("JOB_DEADLINE_SECONDS", 900, minimum=1)
# No retry is scheduled later than this many seconds before a job's deadline: the room its last attempt needs
# to be picked up, run and fail cleanly before the deadline, on a loaded worker too.
JOB_DEADLINE_RESERVE_SECONDS = env_float("JOB_DEADLINE_RESERVE_SECONDS", 1.0, minimum=0)
JOB_REQUEUE_AFTER_SECONDS = env_int("JOB_REQUEUE_AFTER_SECONDS", 60, minimum=1)
JOB_SWEEP_INTERVAL_SECONDS = env_float("JOB_SWEEP_INTERVAL_SECONDS", 15.0, minimum=0.1)
JOB_POLL_INTERVAL_SECONDS = env_float("JOB_POLL_INTERVAL_SECONDS", 2.0, minimum=0.05)
# The watcher (watch_marathon) settles waiting jobs from Marathon's events; true makes workers poll too.
JOB_WORKER_POLLING = env_bool("JOB_WORKER_POLLING", False)
IDEMPOTENCY_TTL_SECONDS = env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600, minimum=1)
JOB_STALE_RUNNING_SECONDS = env_int("JOB_STALE_RUNNING_SECONDS", 120, minimum=10)
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "maracker.maintenance.sweep", "schedule": JOB_SWEEP_INTERVAL_SECONDS},
}

# --- Webhooks (docs/WEBHOOKS.md) -----------------------------------------------------------------
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)  # loopback/private receivers (tests, dev)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)  # plain http receivers
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# Delay before each attempt, in seconds (the first is the initial attempt): the Standard Webhooks schedule.
try:
    WEBHOOK_RETRY_SCHEDULE = [float(x) for x in env_list("WEBHOOK_RETRY_SCHEDULE",
                                                         ["0", "5", "300", "1800", "7200", "18000", "36000", "36000"])]
except ValueError:
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. 0,5,300") from None
if not WEBHOOK_RETRY_SCHEDULE or any(delay < 0 for delay in WEBHOOK_RETRY_SCHEDULE):
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE must list at least one delay, none negative")
WEBHOOK_RETRY_JITTER = env_float("WEBHOOK_RETRY_JITTER", 0.1, minimum=0)  # +/- this fraction of each delay
if WEBHOOK_RETRY_JITTER >= 1:
    raise ImproperlyConfigured("WEBHOOK_RETRY_JITTER must be below 1")
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 24 * 3600, minimum=1)
# Retries due within this many seconds are published with a countdown; later ones wait in the database for
# the sweep (a Redis countdown longer than the visibility timeout would be delivered twice).
WEBHOOK_COUNTDOWN_MAX_SECONDS = min(env_float("WEBHOOK_COUNTDOWN_MAX_SECONDS", 900.0, minimum=0),
                                    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] / 4)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env_float("WEBHOOK_SWEEP_INTERVAL_SECONDS", 15.0, minimum=0.1)
WEBHOOK_REQUEUE_AFTER_SECONDS = env_float("WEBHOOK_REQUEUE_AFTER_SECONDS", 60.0, minimum=0)
# How long a claimed delivery belongs to its worker; past it (a killed worker) the sweep sends it again.
WEBHOOK_LEASE_SECONDS = env_float("WEBHOOK_LEASE_SECONDS", 3 * WEBHOOK_TIMEOUT_SECONDS + 30, minimum=1)
if WEBHOOK_LEASE_SECONDS <= 2 * WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must exceed twice WEBHOOK_TIMEOUT_SECONDS")
# Signs per-request callbacks (callback_url), which have no subscription: whsec_ + base64. Unset: derived
# from SECRET_KEY (stable, but set it explicitly to hand it to API clients).
WEBHOOK_CALLBACK_SECRET = env_str("WEBHOOK_CALLBACK_SECRET", "")
if WEBHOOK_CALLBACK_SECRET:
    import base64 as _base64
    import binascii as _binascii

    try:
        if not WEBHOOK_CALLBACK_SECRET.startswith("whsec_") or len(
            _base64.b64decode(WEBHOOK_CALLBACK_SECRET[6:] + "==", validate=False)
        ) < 24:
            raise ValueError
    except (ValueError, _binascii.Error):
        raise ImproperlyConfigured("WEBHOOK_CALLBACK_SECRET must be whsec_ + base64 of at least 24 bytes") from None
CELERY_BEAT_SCHEDULE["sweep-webhooks"] = {
    "task": "maracker.webhooks.sweep", "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
    "options": {"queue": "maintenance"},
}

# --- Marathon event watcher (python manage.py watch_marathon) ----------------------------------
# WATCHER_IDLE_TIMEOUT: seconds without a byte on /v2/events (heartbeats included) before reconnecting.
# WATCHER_BACKOFF_BASE_SECONDS / WATCHER_BACKOFF_CAP_SECONDS: reconnect delays, doubling from base up to cap,
#   with jitter. WATCHER_BATCH_SIZE: events applied per database transaction at most.
# WATCHER_LOCK_POLL_SECONDS: how often a standby watcher tries the leader lock (and the active one checks it).
# WATCHER_HEALTH_INTERVAL_SECONDS / WATCHER_HEALTH_TTL_SECONDS: how often the health goes to Redis, and how
#   long it stays there (so a dead watcher's health disappears from /readyz).
WATCHER_IDLE_TIMEOUT = env_float("WATCHER_IDLE_TIMEOUT", 60.0, minimum=0.1)
WATCHER_BACKOFF_BASE_SECONDS = env_float("WATCHER_BACKOFF_BASE_SECONDS", 0.5, minimum=0.01)
WATCHER_BACKOFF_CAP_SECONDS = env_float("WATCHER_BACKOFF_CAP_SECONDS", 30.0, minimum=0.01)
WATCHER_BATCH_SIZE = env_int("WATCHER_BATCH_SIZE", 500, minimum=1)
WATCHER_LOCK_POLL_SECONDS = env_float("WATCHER_LOCK_POLL_SECONDS", 1.0, minimum=0.05)
WATCHER_HEALTH_INTERVAL_SECONDS = env_float("WATCHER_HEALTH_INTERVAL_SECONDS", 2.0, minimum=0.1)
WATCHER_HEALTH_TTL_SECONDS = env_int("WATCHER_HEALTH_TTL_SECONDS", 15, minimum=1)

# --- HTTP API -----------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    # API tokens first: an anonymous request is then answered 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the web pages' sign-in; CSRF on writes
    ],
    # Every route needs a signed-in user unless its view says otherwise (api/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsSignedIn"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [],
}

# --- Accounts, API tokens, permissions (docs/OPERATIONS.md, README "Authentication") -----------------
# Catalog reads (apps, configurations, containers) need no sign-in when true; changes and deploys always do.
PUBLIC_CATALOG = env_bool("PUBLIC_CATALOG", True)
# Job-creating requests per user (per token when signed in with one): N/s, N/min, N/hour or N/day.
JOB_CREATE_RATE = env_str("JOB_CREATE_RATE", "120/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", JOB_CREATE_RATE):
    raise ImproperlyConfigured(f"JOB_CREATE_RATE={JOB_CREATE_RATE!r} must be like 120/min (s, min, hour, day)")
# Days an API token lives unless its creator says otherwise (0: no expiry).
API_TOKEN_DEFAULT_EXPIRY_DAYS = env_int("API_TOKEN_DEFAULT_EXPIRY_DAYS", 0, minimum=0)
# How often a token's last-used time is written at most (one conditional UPDATE per interval).
API_TOKEN_LAST_USED_INTERVAL_SECONDS = env_int("API_TOKEN_LAST_USED_INTERVAL_SECONDS", 60, minimum=0)
# Tokens are django-rest-knox tokens stored as SHA-512 digests; "mrk_" marks them (and lets logs redact them).
KNOX_TOKEN_MODEL = "shared.ApiToken"
# knox's own token table is never used (ours replaces it): its migrations are not run.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_PREFIX": "mrk_",
    "TOKEN_TTL": None,
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
LOGIN_URL = "/accounts/login/"

if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")
SPECTACULAR_SETTINGS = {
    "TITLE": "Maracker API",
    "DESCRIPTION": "Catalog of deployable web applications and asynchronous deployment jobs on Marathon.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema_hooks.problem_media_types"],
}

# --- Static files, i18n -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served from the apps' static folders directly, so no collectstatic step is needed before starting
# (STATIC_ROOT then need not exist: whitenoise's warning about it says nothing useful).
WHITENOISE_USE_FINDERS = True
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at: ")
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", "json", {"json", "console"})
# Structured lines (structlog) with request/job/app ids bound, secrets redacted: see config/logging.py.
from config.logging import logging_config  # noqa: E402

LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)
