"""Settings of the migration health console, all read from the environment.

Every variable is listed in README.md ("Configuration"). Development defaults are safe on a
laptop; `CONSOLE_ENV=production` turns on the hardening that `manage.py check --deploy` asks
for and refuses to start without the secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console.client_address import ProxySettingError, parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


CONSOLE_ENV = env("CONSOLE_ENV", "development")
if CONSOLE_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"CONSOLE_ENV={CONSOLE_ENV!r} is not one of development, production, test"
    )
PRODUCTION = CONSOLE_ENV == "production"

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production (50+ random characters)")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijklmn"

DEBUG = env_bool("DEBUG", not PRODUCTION and CONSOLE_ENV != "test")
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()
]
# The public base URL, used for links in alert e-mails.
CONSOLE_BASE_URL = env("CONSOLE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

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
            ],
        },
    },
]

# --- Services -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mhc")
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a postgresql:// URL (psycopg 3), got {DATABASE_URL.split(':')[0]}://"
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5, "application_name": "mhc-console"}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis for the Celery broker, the sample streams and the write-capture store.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must be a redis:// URL, got {REDIS_URL!r}")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
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
# Redis redelivers an unacked task after this; no countdown of ours is longer than it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Schedules live in the database so admins edit them (django-celery-beat).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False


def _beat_schedule() -> dict:
    # Each part declares its periodic tasks by name in a Django-free schedule module.
    from console.alerts.schedule import BEAT_SCHEDULE as alerts_beat
    from numa.schedule import BEAT_SCHEDULE as numa_beat
    from verifiers.groups.schedule import BEAT_SCHEDULE as groups_beat
    from verifiers.read.schedule import BEAT_SCHEDULE as read_beat
    from verifiers.reconcile.schedule import BEAT_SCHEDULE as reconcile_beat
    from verifiers.schedule import BEAT_SCHEDULE as verifiers_beat
    from verifiers.write.schedule import BEAT_SCHEDULE as write_beat

    return {**verifiers_beat, **groups_beat, **read_beat, **write_beat, **reconcile_beat, **numa_beat, **alerts_beat}


CELERY_BEAT_SCHEDULE = _beat_schedule()

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
    "read_samples": env("RATE_LIMIT_READ_SAMPLES", "1200/min"),
    "write_captures": env("RATE_LIMIT_WRITE_CAPTURES", "600000/min"),
    "write_commits": env("RATE_LIMIT_WRITE_COMMITS", "600000/min"),
    "numa_samples": env("RATE_LIMIT_NUMA_SAMPLES", "120/min"),
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
TRUSTED_PROXIES = [p.strip() for p in (env("TRUSTED_PROXIES", "") or "").split(",") if p.strip()]
try:
    TRUSTED_PROXY_NETWORKS = parse_networks(TRUSTED_PROXIES)
except ProxySettingError as error:
    raise ImproperlyConfigured(str(error)) from None

# A verifier whose oldest waiting sample is older than this is reported stalled (/healthz,
# dashboard, alert): well above a normal batch's seconds, well below an operator's patience.
VERIFIER_STALL_SECONDS = env_int("VERIFIER_STALL_SECONDS", 120)

# --- Time -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "Asia/Seoul")
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
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION or env("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / ".state" / "mail"))  # filebased backend
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Migration health console <mhc@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Production hardening (what check --deploy asks for) ------------------------------------
if PRODUCTION:
    if ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]"] and not env("ALLOWED_HOSTS"):
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
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
