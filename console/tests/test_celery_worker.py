"""A real Celery worker process runs a task sent through Redis."""

import pytest

from console.tasks import ping

pytestmark = pytest.mark.integration


def test_real_worker_runs_a_task_through_redis(celery_worker_process, client):
    result = ping.delay()
    assert result.get(timeout=30) == {"pong": True, "host": pytest.importorskip("socket").gethostname()}


def test_healthz_is_healthy_with_a_live_worker(celery_worker_process, client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["celery"]["workers"]


def test_broker_channel_closed_after_its_connection_restores_unacked_messages(settings):
    """Redis restarts: kombu clears the transport's client, then the channel restores unacked work.

    With kombu's own Redis transport the restore raised AttributeError ('NoneType' object has no
    attribute 'hostname') and the worker exited; ours puts the message back on its queue.
    """
    from kombu import Connection, Exchange, Queue

    from console.celery import RedisTransport, app

    assert app.conf.broker_transport == "console.celery:RedisTransport"
    queue = Queue("restore-probe", Exchange("restore-probe"), "restore-probe")
    with Connection(settings.CELERY_BROKER_URL, transport=app.conf.broker_transport) as connection:
        assert isinstance(connection.transport, RedisTransport)
        with connection.Producer() as producer:
            producer.publish({"n": 1}, exchange=queue.exchange, routing_key="restore-probe", declare=[queue])
        channel = connection.channel()
        assert queue(channel).get(no_ack=False).payload == {"n": 1}  # delivered, not acknowledged
        connection.transport.client = None  # what Connection._do_close_transport does on a drop
        channel._disconnect_pools()
        channel.close()  # restores the unacked message
        with connection.channel() as again:
            restored = queue(again).get(no_ack=True)
    assert restored is not None and restored.payload == {"n": 1}
