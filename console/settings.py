"""Settings of the migration health console, all read from the environment.

Every variable is listed in README.md ("Configuration"). Development defaults are safe on a
laptop; `CONSOLE_ENV=production` turns on the hardening that `manage.py check --deploy` asks
for and refuses to start without the secrets.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console.client_address import ProxySettingError, parse_networks
from console.config import env_bool, env_int, env_list, env_optional, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent


CONSOLE_ENV = env_str("CONSOLE_ENV", "development")
if CONSOLE_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"CONSOLE_ENV={CONSOLE_ENV!r} is not one of development, production, test"
    )
PRODUCTION = CONSOLE_ENV == "production"

SECRET_KEY = env_optional("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production (50+ random characters)")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijklmn"

DEBUG = env_bool("DEBUG", not PRODUCTION and CONSOLE_ENV != "test")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public base URL, used for links in alert e-mails.
CONSOLE_BASE_URL = env_str("CONSOLE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "console",
    "console.alerts",
    "verifiers",
    "numa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Everything is behind login; the few open views (login, healthz, token API) opt out.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # ...and a viewer role or more: a logged-in user with no role sees no page (console.access).
    "console.access.RequireViewerRoleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"
# Global groups and direct permissions (ModelBackend), then per-migration roles (console.access).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "console.access.MigrationRoleBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

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
                "console.context_processors.console",
                "console.context_processors.migration_picker",
            ],
        },
    },
]

# --- Services -------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mhc", ("postgresql", "postgres"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5, "application_name": "mhc-console"}
# The test database's name; console.test_settings picks a per-run one when this is unset.
TEST_DATABASE_NAME = env_optional("TEST_DATABASE_NAME")
DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis for the Celery broker, the sample streams and the write-capture store.
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss", "unix"))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# MySQL/MariaDB server for MySQL-engine checks and the second demo ledger (the launcher exports the
# one it found or started); verified MySQL databases themselves are configured in the admin.
MYSQL_URL = env_url("MYSQL_URL", "mysql://root@127.0.0.1:3306/", ("mysql", "mariadb"))
# The demo world's ledger database; default: mhc_demo_ledger on the console's own server.
DEMO_LEDGER_URL = env_url(
    "DEMO_LEDGER_URL", DATABASE_URL.rsplit("/", 1)[0] + "/mhc_demo_ledger", ("postgresql", "postgres")
)
# The demo world's second ledger (foreign-currency deposits); default: fx_deposits on MYSQL_URL's server.
DEMO_FX_LEDGER_URL = env_url("DEMO_FX_LEDGER_URL", MYSQL_URL.rstrip("/") + "/fx_deposits", ("mysql", "mariadb"))

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport, repaired so a Redis restart cannot kill the worker (console/celery.py).
CELERY_BROKER_TRANSPORT = "console.celery:RedisTransport"
CELERY_RESULT_BACKEND = REDIS_URL
# JSON only: tasks take primary keys and small dicts, never pickles from the network.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Results are read by the chord of a reconciliation and by tests; an hour is plenty.
CELERY_RESULT_EXPIRES = 3600
# Backstops: no task of ours should run for minutes; the reconciliation parts are the longest.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
# Our tasks are idempotent, so a task whose worker died is redelivered rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per process: tasks are few and heavy (batches), not many and tiny.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers a task whose worker died (acks_late, unacknowledged) after the visibility
# timeout: the longest a task may run (its hard time limit) plus a margin, so a live task is never
# handed to a second worker and a killed one runs again within minutes, not an hour. Workers sweep
# for such tasks every 10 s (kombu's default is every 100 s). No countdown or eta of ours is longer
# (verifiers.write.services caps its countdown; test_celery_settings checks).
TASK_REDELIVERY_MARGIN_S = env_int("TASK_REDELIVERY_MARGIN_S", 120)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + TASK_REDELIVERY_MARGIN_S,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# A reconciliation run with no heartbeat for this long lost its worker: the watchdog fails it with
# that reason. Every step of a run beats at least once per task time limit; the extra margin lets a
# redelivered coordinator (after the visibility timeout) pick the run up first.
RECONCILE_STALE_AFTER_S = env_int("RECONCILE_STALE_AFTER_S",
                                  CELERY_TASK_TIME_LIMIT + 2 * TASK_REDELIVERY_MARGIN_S)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Schedules live in the database so admins edit them (django-celery-beat).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False


def _beat_schedule() -> dict:
    # Each part declares its periodic tasks by name in a Django-free schedule module.
    from console.alerts.schedule import BEAT_SCHEDULE as alerts_beat
    from numa.schedule import beat_schedule as numa_beat
    from verifiers.groups.schedule import BEAT_SCHEDULE as groups_beat
    from verifiers.read.schedule import BEAT_SCHEDULE as read_beat
    from verifiers.reconcile.schedule import BEAT_SCHEDULE as reconcile_beat
    from verifiers.schedule import BEAT_SCHEDULE as verifiers_beat
    from verifiers.write.schedule import BEAT_SCHEDULE as write_beat

    return {**verifiers_beat, **groups_beat, **read_beat, **write_beat, **reconcile_beat,
            **numa_beat(collect_interval_s=float(NUMA_COLLECT_INTERVAL_SECONDS)), **alerts_beat}


# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.access.CanView"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
# The read verifier reads each replayed answer whole, up to this many decoded bytes; a longer
# answer is an `error` verdict naming this setting (a cut-off body would compare falsely).
READ_MAX_RESPONSE_BYTES = env_int("READ_MAX_RESPONSE_BYTES", 5 * 1024 * 1024)

# Requests per client (token user) and endpoint; 429 with Retry-After beyond. Ingest is batched
# for reads (a batch per request) and one request per write for captures and commits.
INGEST_RATE_LIMITS = {
    "read_samples": env_str("RATE_LIMIT_READ_SAMPLES", "1200/min"),
    "write_captures": env_str("RATE_LIMIT_WRITE_CAPTURES", "600000/min"),
    "write_commits": env_str("RATE_LIMIT_WRITE_COMMITS", "600000/min"),
    "numa_samples": env_str("RATE_LIMIT_NUMA_SAMPLES", "120/min"),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Migration health console API",
    "DESCRIPTION": "Ingest of mirrored reads and write captures; mismatch groups; NUMA samples.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Two choice sets are called "kind"; name them so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "VerificationKindEnum": "verifiers.models.outcomes.VerificationKind",
        "PinningKindEnum": "numa.models.PinningEvent.Kind",
    },
}

# --- Auth and sessions ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 3600  # one working shift
# Failed logins allowed per user name and client address per 5 minutes before the form refuses.
LOGIN_RATE_LIMIT = env_int("LOGIN_RATE_LIMIT", 10)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; from anyone else the
# header is ignored, since a client can write any address into it.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
try:
    TRUSTED_PROXY_NETWORKS = parse_networks(TRUSTED_PROXIES)
except ProxySettingError as error:
    raise ImproperlyConfigured(str(error)) from None

# A verifier whose oldest waiting sample is older than this is reported stalled (/healthz,
# dashboard, alert): well above a normal batch's seconds, well below an operator's patience.
VERIFIER_STALL_SECONDS = env_int("VERIFIER_STALL_SECONDS", 120)

# --- Retention -----------------------------------------------------------------------------
# Stored (masked) mismatch samples, the ids that make a redelivered sample count once (must outlast
# any redelivery: hours), and the per-minute counts behind the charts; pruned daily at 04:30.
SAMPLE_RETENTION_DAYS = env_int("SAMPLE_RETENTION_DAYS", 30, minimum=1)
VERIFIED_ID_RETENTION_DAYS = env_int("VERIFIED_ID_RETENTION_DAYS", 3, minimum=1)
OUTCOME_RETENTION_DAYS = env_int("OUTCOME_RETENTION_DAYS", 400, minimum=1)

# --- NUMA collection (numa/conf.py documents each; it checks the values again where used) ---
NUMA_COLLECT_INTERVAL_SECONDS = env_int("NUMA_COLLECT_INTERVAL_SECONDS", 10, minimum=1)
NUMA_SILENT_AFTER_INTERVALS = env_int("NUMA_SILENT_AFTER_INTERVALS", 3, minimum=1)
NUMA_RAW_RETENTION_HOURS = env_int("NUMA_RAW_RETENTION_HOURS", 48, minimum=1)
NUMA_MINUTE_RETENTION_DAYS = env_int("NUMA_MINUTE_RETENTION_DAYS", 14, minimum=1)
NUMA_HOUR_RETENTION_DAYS = env_int("NUMA_HOUR_RETENTION_DAYS", 400, minimum=1)
NUMA_EXTRAS_SECONDS = env_int("NUMA_EXTRAS_SECONDS", 2, minimum=1)
NUMA_TOP_PROCESSES = env_int("NUMA_TOP_PROCESSES", 5, minimum=0, maximum=50)
NUMA_CGROUP_ROOT = env_str("NUMA_CGROUP_ROOT", "")
NUMA_KUBELET_CONFIGZ_URL = env_str("NUMA_KUBELET_CONFIGZ_URL", "")
NUMA_KUBELET_TOKEN_FILE = env_str("NUMA_KUBELET_TOKEN_FILE", "")
NUMA_KUBELET_CA_FILE = env_str("NUMA_KUBELET_CA_FILE", "")

CELERY_BEAT_SCHEDULE = _beat_schedule()

# --- Time -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "Asia/Seoul")
USE_I18N = False
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# Production serves what `collectstatic` gathered; development and tests serve from the finders.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.min.js straight from the plotly wheel: no CDN, no copy in the repository.
    "console.staticfinders.PlotlyJsFinder",
]

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION or env_optional("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".state" / "mail"))  # filebased backend
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Migration health console <mhc@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Production hardening (what check --deploy asks for) ------------------------------------
if PRODUCTION:
    if ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]"] and not env_optional("ALLOWED_HOSTS"):
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
