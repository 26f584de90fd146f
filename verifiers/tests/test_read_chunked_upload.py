"""Issue 11 item 4: POST /api/v1/read-samples with Transfer-Encoding: chunked, through real gunicorn.

The Django test client cannot send a chunked body, so a gunicorn process serves the test
database and the upload goes over a socket as gateways send it.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS
from verifiers.benchmarks.support import free_port
from verifiers.read import stream
from verifiers.read.ingest import MAX_BODY_BYTES
from verifiers.tests.read_support import make_sample

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def gunicorn_url(transactional_db) -> Iterator[str]:
    from django.db import connection

    from conftest import _worker_env

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "console.wsgi", "-b", f"127.0.0.1:{port}", "--workers", "1",
         "--log-level", "warning"],
        cwd=ROOT, env=_worker_env(connection.settings_dict["NAME"]), start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def _post_chunked(address: str, token: str, pieces, content_type: str = "application/x-ndjson"):
    connection = http.client.HTTPConnection(address, timeout=60)
    connection.request("POST", "/api/v1/read-samples", body=iter(pieces), encode_chunked=True,
                       headers={"Authorization": f"Token {token}", "Content-Type": content_type,
                                "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    return response.status, response.read()


@pytest.fixture
def token(user_with_role) -> str:
    return ApiToken.issue(user=user_with_role(MACHINE_CLIENTS, "gateway"), name="t")[1]


def test_a_chunked_ndjson_upload_is_accepted_whole(gunicorn_url, token, redis_client):
    lines = [orjson.dumps(make_sample(f"c{index}")) + b"\n" for index in range(300)]
    status, body = _post_chunked(gunicorn_url, token, lines)
    assert status == 202, body
    assert orjson.loads(body)["accepted"] == 300 and redis_client.xlen(stream.STREAM_KEY) == 300


def test_a_chunked_json_upload_is_accepted(gunicorn_url, token, redis_client):
    text = orjson.dumps([make_sample("j1"), make_sample("j2")])
    status, body = _post_chunked(gunicorn_url, token, [text[:50], text[50:]], "application/json")
    assert status == 202 and orjson.loads(body)["accepted"] == 2


def test_a_chunked_upload_past_the_limit_is_413(gunicorn_url, token, redis_client):
    piece = b" " * (1024 * 1024)
    status, body = _post_chunked(gunicorn_url, token, [piece] * (MAX_BODY_BYTES // len(piece) + 1) + [b"[]"])
    assert status == 413 and str(MAX_BODY_BYTES) in body.decode()
    assert redis_client.xlen(stream.STREAM_KEY) == 0
