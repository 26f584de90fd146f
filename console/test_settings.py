"""Settings for the test suite: the normal settings, with test-only isolation on top.

Several test runs may share a machine (developers running parts of the suite side by side), so
each run takes its own PostgreSQL test database and its own Redis database (flushed per test).
"""

import atexit
import os

import redis

from console.config import env_int, env_optional

os.environ.setdefault("CONSOLE_ENV", "test")

from console.settings import *  # noqa: E402,F403
from console.settings import DATABASES, REDIS_URL  # noqa: E402

REDIS_TEST_DBS = range(15, 7, -1)  # 15 first: a lone run (CI) always gets 15


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _allocate_redis_test_db(base_url: str) -> int:
    inherited = env_int("TEST_REDIS_DB", -1, minimum=0, maximum=15)
    if inherited >= 0:  # a worker process the tests started uses its parent's database
        return inherited
    try:
        client = redis.Redis.from_url(f"{base_url}/0", socket_connect_timeout=2)
        for db in REDIS_TEST_DBS:
            key = f"mhc:test-redis-db:{db}"
            owner = client.get(key)
            if owner is not None and _pid_alive(int(owner)):
                continue
            if client.set(key, os.getpid(), ex=6 * 3600, nx=owner is None) or owner is not None:
                client.set(key, os.getpid(), ex=6 * 3600)
                atexit.register(client.delete, key)
                return db
    except redis.RedisError:
        pass  # Redis down: the tests that need it fail with their own clear error
    return 15


_REDIS_BASE = REDIS_URL.rsplit("/", 1)[0]
TEST_REDIS_DB = _allocate_redis_test_db(_REDIS_BASE)
os.environ["TEST_REDIS_DB"] = str(TEST_REDIS_DB)  # inherited by worker processes the tests start
REDIS_URL = f"{_REDIS_BASE}/{TEST_REDIS_DB}"
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
TEST_DATABASE_NAME = env_optional("TEST_DATABASE_NAME") or f"test_mhc_{os.getpid()}"
DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
