"""HybridQC settings, read from the environment.

Typed helpers fail loudly on malformed values. Without ``DATABASE_URL`` the app uses an
embedded SQLite file; without ``CELERY_BROKER_URL`` Celery tasks run in-process (eager), so
``make demo`` needs no services. ``make test`` and ``make serve`` set both.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from hybridqc import queues
from hybridqc.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_pair,
    env_rate,
    env_regex,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# The demo sets HYBRIDQC_DEMO=1; only then are DEBUG and a fixed key allowed by default.
DEMO = env_bool("HYBRIDQC_DEMO", False)
DEBUG = env_bool("DEBUG", DEMO)
# No fixed key outside the demo. Management commands (migrate, makemigrations, workers) may run
# with a throwaway key; serving requires a real one (hybridqc/wsgi.py refuses to start).
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "hybridqc-demo-only-insecure-key" if DEMO else "unset-" + secrets.token_urlsafe(32)
)
SECRET_KEY_IS_SET = bool(os.environ.get("SECRET_KEY")) or DEMO
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "django_tables2",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "routing",
    "reviewers",
    "dashboard",
    # The cross-app flow (import -> judge -> route -> review tasks): its task, command and receivers.
    "hybridqc.flows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (htmx, CSS) under gunicorn too, without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "hybridqc.errors.ApplicationErrorMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hybridqc.urls"
WSGI_APPLICATION = "hybridqc.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        # Empty counts as unset: `make demo` clears any DATABASE_URL from the caller's shell.
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60,
        # A kept connection is checked before a request or task reuses it: after a database restart
        # the first request reconnects instead of failing on the dead connection.
        conn_health_checks=True,
    )
}
# Parallel test runs (helpers, CI) each need their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("HYBRIDQC_TEST_DB") or None}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
else:
    # No JIT: a page's correlated subqueries (the item search's reference) are estimated far above
    # jit_above_cost, and compiling them took 4.9 s for a query that runs in 12 ms.
    DATABASES["default"]["OPTIONS"] = {"options": "-c jit=off"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The throttling backend first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "hybridqc.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): this many failures for one username from one address lock that
# pair out for AXES_COOLOFF_MINUTES; the correct password is refused meanwhile (HTTP 429).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, min_value=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30, min_value=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "static_root"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Served over HTTPS unless DEBUG (the demo) or SECURE_HTTPS=0 says otherwise: secure cookies,
# HSTS and a redirect of plain HTTP. Behind a TLS-terminating proxy, name the header it sets:
# SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https" (only if the proxy always sets it).
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_HTTPS else 0, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HTTPS)
SECURE_PROXY_SSL_HEADER = env_pair("SECURE_PROXY_SSL_HEADER")
# No inline script or style anywhere: templates load static/js and static/css files (bar widths are
# classes), htmx eval and its injected style element are off in base.html.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Request bodies apart from uploaded files (form fields, JSON): none of ours is more than a few KB,
# so anything past this is refused (400) before a view sees it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MB", 10, min_value=1) * 1024 * 1024
# Uploaded files above this go to a temporary file instead of memory: a few 200 MB imports at
# once must not take a worker's memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MEMORY_MB", 10, min_value=1) * 1024 * 1024

# Format-v1 import bounds (routing/ingest/import_rules.py): past any of them a file is refused
# with a line-numbered error and nothing is written. Files of a few thousand items are a few MB.
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, min_value=1)
# Ids (item, judge, annotator) are stored in 200-character columns; a longer limit could not be kept.
IMPORT_MAX_ID_CHARS = env_int("IMPORT_MAX_ID_CHARS", 200, min_value=1, max_value=200)
IMPORT_MAX_TEXT_CHARS = env_int("IMPORT_MAX_TEXT_CHARS", 200_000, min_value=1)
# Workers build one entry per scale value (agreement, calibration): a huge range would exhaust them.
IMPORT_MAX_SCALE_STEPS = env_int("IMPORT_MAX_SCALE_STEPS", 100, min_value=2)
# Checked without recursion, but Django's JSON encoding of metadata recurses: keep it shallow.
IMPORT_MAX_DEPTH = env_int("IMPORT_MAX_DEPTH", 20, min_value=1, max_value=200)
IMPORT_MAX_METADATA_VALUES = env_int("IMPORT_MAX_METADATA_VALUES", 10_000, min_value=1)
IMPORT_MAX_JUDGMENTS = env_int("IMPORT_MAX_JUDGMENTS", 1000, min_value=1)
IMPORT_MAX_LABELS = env_int("IMPORT_MAX_LABELS", 1000, min_value=1)
IMPORT_MAX_DOMAIN_SEGMENTS = env_int("IMPORT_MAX_DOMAIN_SEGMENTS", 8, min_value=1)
# Uploads (form and API) larger than this are stored and imported by a background job; smaller
# ones are imported within the request. 0 sends every upload to the background.
IMPORT_BACKGROUND_BYTES = env_int("IMPORT_BACKGROUND_BYTES", 5 * 1024 * 1024, min_value=0)
# Line errors kept on a failed job (the page and the API show them).
IMPORT_JOB_MAX_ERRORS = env_int("IMPORT_JOB_MAX_ERRORS", 500, min_value=1)
# Stored uploads of background imports (workers read them: share the directory between hosts).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# Celery: without a broker, tasks run in the calling process (the embedded demo).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Judge chunks, routing and housekeeping on queues of their own (hybridqc/queues.py).
CELERY_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "hybridqc")
CELERY_TASK_ROUTES = queues.task_routes(CELERY_QUEUE_PREFIX)
CELERY_TASK_DEFAULT_QUEUE = queues.queue_name(CELERY_QUEUE_PREFIX, queues.ROUTING)
# Every time limit stays below the visibility timeout (checked below): with acks_late, a task still
# running when it lapses is handed to a second worker.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, min_value=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600, min_value=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660, min_value=1)
# A judge chunk is sized to take at most half its soft limit (routing/judging/runner.py).
JUDGE_CHUNK_SOFT_TIME_LIMIT = env_int("JUDGE_CHUNK_SOFT_TIME_LIMIT", 1800, min_value=1)
JUDGE_CHUNK_TIME_LIMIT = env_int("JUDGE_CHUNK_TIME_LIMIT", 1920, min_value=1)
# A lineage export of a large batch writes for minutes (about 100k rows a minute in the lead bench).
EXPORT_JOB_SOFT_TIME_LIMIT = env_int("EXPORT_JOB_SOFT_TIME_LIMIT", 1800, min_value=1)
EXPORT_JOB_TIME_LIMIT = env_int("EXPORT_JOB_TIME_LIMIT", 1920, min_value=1)
CELERY_TASK_ANNOTATIONS = {"routing.tasks.judge_chunk": {"soft_time_limit": JUDGE_CHUNK_SOFT_TIME_LIMIT,
                                                         "time_limit": JUDGE_CHUNK_TIME_LIMIT},
                           "dashboard.tasks.export_job_run": {"soft_time_limit": EXPORT_JOB_SOFT_TIME_LIMIT,
                                                              "time_limit": EXPORT_JOB_TIME_LIMIT}}
queues.time_limits_check(
    {"CELERY_TASK_SOFT_TIME_LIMIT/CELERY_TASK_TIME_LIMIT": (CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT),
     "JUDGE_CHUNK_SOFT_TIME_LIMIT/JUDGE_CHUNK_TIME_LIMIT": (JUDGE_CHUNK_SOFT_TIME_LIMIT, JUDGE_CHUNK_TIME_LIMIT),
     "EXPORT_JOB_SOFT_TIME_LIMIT/EXPORT_JOB_TIME_LIMIT": (EXPORT_JOB_SOFT_TIME_LIMIT, EXPORT_JOB_TIME_LIMIT)},
    visibility_timeout=CELERY_VISIBILITY_TIMEOUT,
)
# The judges' shared provider limits (routing/judging/limits.py): in Redis, by default the broker's;
# empty (no broker, the demo) keeps them in the process.
JUDGE_LIMIT_STORE_URL = env_str(
    "JUDGE_LIMIT_STORE_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "")
# The sweeper (dashboard/housekeeping.py): a judge run or batch stage with no progress for
# SWEEP_STALE_SECONDS is re-enqueued, at most SWEEP_MAX_REQUEUES times, then failed with the reason.
# Keep the stale interval above the longest a chunk may run (the task time limit).
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 60, min_value=1)
SWEEP_STALE_SECONDS = env_int("SWEEP_STALE_SECONDS", JUDGE_CHUNK_TIME_LIMIT + 300, min_value=1)
SWEEP_MAX_REQUEUES = env_int("SWEEP_MAX_REQUEUES", 3, min_value=0)
CELERY_BEAT_SCHEDULE = {
    "router-retrain-check": {"task": "routing.tasks.router_retrain_check", "schedule": 600.0},
    "review-leases-expire": {"task": "reviewers.tasks.review_leases_expire", "schedule": 60.0},
    "housekeeping-sweep": {"task": "housekeeping.sweep", "schedule": float(SWEEP_INTERVAL_SECONDS)},
    "trend-alarms-check": {"task": "dashboard.tasks.alarms_check", "schedule": 3600.0},
    # A safety net: each import queues its own batch's search indexing when it commits.
    "example-search-backfill": {"task": "routing.tasks.example_search_backfill", "schedule": 900.0},
}

# Cache (API throttling counters): shared Redis whenever there is one, so every web worker counts
# the same requests; an in-process cache for the embedded demo.
CACHE_URL = os.environ.get("CACHE_URL") or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "hybridqc"}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# API: session (the browser) or a personal API token; no Basic auth (one password hash per guess).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "dashboard.authentication.ApiTokenAuthentication",
        # Last: counts the requests nobody authenticated (the "anon" rate), before permissions refuse them.
        "hybridqc.throttling.AnonymousThrottleAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "hybridqc.renderers.CspBrowsableAPIRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # NUL, lone surrogates and too-deep nesting are a 400 naming the problem, not a 500 (hybridqc/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "hybridqc.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # ApplicationError -> its status and {"detail", "code"}, as the pages map it (hybridqc/errors.py).
    "EXCEPTION_HANDLER": "hybridqc.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "hybridqc.throttling.UserThrottle",
        "hybridqc.throttling.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "120/min"),
        "user": env_rate("API_THROTTLE_USER", "3000/min"),
        # Minting tokens: a person needs a few, a script looping on it is a mistake.
        "token-create": env_rate("API_THROTTLE_TOKEN_CREATE", "20/hour"),
        # Refused tokens per client address (guessing).
        "token-failure": env_rate("API_THROTTLE_TOKEN_FAILURE", "30/min"),
        # The password reset page (hybridqc.auth): each request mails a person.
        "password-reset-email": env_rate("PASSWORD_RESET_PER_EMAIL", "3/hour"),
        "password-reset-ip": env_rate("PASSWORD_RESET_PER_IP", "10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HybridQC API",
    "DESCRIPTION": "Import batches, read reports and release gates, review items. Authenticate with a "
    "personal API token (`Authorization: Bearer <token>`) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The anonymous-request counter is an authentication class that authenticates nobody: not a scheme.
    "AUTHENTICATION_WHITELIST": ["rest_framework.authentication.SessionAuthentication",
                                 "dashboard.authentication.ApiTokenAuthentication"],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Served from the installed sidecar package: no CDN (no internet, and a CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Personal API tokens: the longest life a user may give one (days); 0 = no limit.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, min_value=0)
# Webhooks on release-gate changes: per-request timeout and retries of transient failures.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, min_value=1, max_value=20)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0)

# E-mail (invitations, password resets): printed to the console unless a backend is configured;
# the tests collect mail in memory (locmem).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "HybridQC <hybridqc@localhost>")

# Reviewer workspace: lease length, double-review share, gold checks.
REVIEW_LEASE_SECONDS = env_int("REVIEW_LEASE_SECONDS", 15 * 60)
# The longest one claim keeps an item, however often the open page renews its lease.
REVIEW_LEASE_MAX_MINUTES = env_int("REVIEW_LEASE_MAX_MINUTES", 120)
REVIEW_SECOND_SHARE = env_float("REVIEW_SECOND_SHARE", 0.10)
# How long after a submit the reviewer may take the label back ("u"), item and lease included.
REVIEW_UNDO_SECONDS = env_int("REVIEW_UNDO_SECONDS", 120)
REVIEW_GOLD_SHARE = env_float("REVIEW_GOLD_SHARE", 0.05)
REVIEW_GOLD_THRESHOLD = env_float("REVIEW_GOLD_THRESHOLD", 0.80)
REVIEW_GOLD_MIN_ITEMS = env_int("REVIEW_GOLD_MIN_ITEMS", 20)
# The roster CSV refuses a capacity above this (items per reviewer per day).
ROSTER_MAX_CAPACITY_PER_DAY = env_int("ROSTER_MAX_CAPACITY_PER_DAY", 1000, min_value=1, max_value=1_000_000)

# Live judge (routing/judging/guards.py): which environment variables a judge configuration may send
# as its API key, and where. Names outside the pattern, and the server's own secrets, are refused.
JUDGE_API_KEY_ENV_PATTERN = env_regex("JUDGE_API_KEY_ENV_PATTERN", r"^HYBRIDQC_JUDGE_[A-Z0-9_]+$|^OPENAI_API_KEY$")
# Names that look like credentials (TOKEN, SECRET...) but really hold a judge's key.
JUDGE_API_KEY_ENV_ALLOWLIST = env_list("JUDGE_API_KEY_ENV_ALLOWLIST", [])
# Host names a base URL may use (empty: any public host; ".example.com" includes subdomains).
JUDGE_ALLOWED_HOSTS = env_list("JUDGE_ALLOWED_HOSTS", [])
# Private, loopback and link-local addresses are refused unless on; the demo's fake judge is on 127.0.0.1.
JUDGE_ALLOW_PRIVATE_HOSTS = env_bool("JUDGE_ALLOW_PRIVATE_HOSTS", DEMO)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One record, one line: a newline in a logged value (a batch name...) cannot forge a record.
    "formatters": {"single_line": {"()": "hybridqc.logformat.SingleLineFormatter",
                                   "format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "single_line"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Trend alarms: one-sided significance level of each test of the latest period against the
# trailing window of that many earlier periods; the release gate's minimum estimated label accuracy.
ALARM_SIGNIFICANCE = env_float("ALARM_SIGNIFICANCE", 0.01)
if not 0 < ALARM_SIGNIFICANCE < 1:
    raise ImproperlyConfigured(f"ALARM_SIGNIFICANCE={ALARM_SIGNIFICANCE} must be between 0 and 1")
ALARM_WINDOW = env_int("ALARM_WINDOW", 3, min_value=1, max_value=24)
RELEASE_MIN_LABEL_ACCURACY = env_float("RELEASE_MIN_LABEL_ACCURACY", 0.0)
if not 0 <= RELEASE_MIN_LABEL_ACCURACY <= 1:
    raise ImproperlyConfigured(f"RELEASE_MIN_LABEL_ACCURACY={RELEASE_MIN_LABEL_ACCURACY} must be within 0..1")
# Input drift: a batch is flagged below this p-value when its effect is large enough.
INPUT_DRIFT_ALPHA = env_float("INPUT_DRIFT_ALPHA", 0.01)
INPUT_DRIFT_MIN_AUC = env_float("INPUT_DRIFT_MIN_AUC", 0.65)
if not 0 < INPUT_DRIFT_ALPHA < 1 or not 0.5 <= INPUT_DRIFT_MIN_AUC <= 1:
    raise ImproperlyConfigured("INPUT_DRIFT_ALPHA must be in (0, 1) and INPUT_DRIFT_MIN_AUC in [0.5, 1]")
