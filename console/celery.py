"""The Celery application. Settings are the CELERY_* names in console/settings.py.

`RedisTransport` is kombu's Redis transport with one repair (CELERY_BROKER_TRANSPORT names it):
when the broker connection drops, kombu closes the connection and clears `Transport.client`
(`Connection._do_close_transport`); a channel closed after that restores its unacknowledged
messages through a fresh connection pool built from `transport.client`, and the worker died with
`Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")` right after
"Restoring N unacknowledged message(s)" (seen on Redis restarts; kombu 5.x). Our channels remember
the connection's parameters, so the restore reaches Redis (or fails with a connection error,
which Celery retries) instead of killing the worker.
"""

import os
from typing import Any

from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")


class RememberingChannel(kombu_redis.Channel):
    """A Redis channel that can still build a connection pool after its transport was closed."""

    def __init__(self, connection: Any, *args: Any, **kwargs: Any) -> None:
        self._broker_connection = connection.client  # the kombu Connection: host, port, options
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None and self._broker_connection is not None:
            self.connection.client = self._broker_connection
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # not in the stubs


class RedisTransport(kombu_redis.Transport):
    Channel = RememberingChannel


app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
