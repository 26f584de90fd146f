"""Settings for the test suite: the normal settings, with test-only isolation on top."""

import os

os.environ.setdefault("CONSOLE_ENV", "test")

from console.settings import *  # noqa: E402,F403
from console.settings import REDIS_URL  # noqa: E402

# Tests own Redis database 15 and flush it per test; never the demo's database.
REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
