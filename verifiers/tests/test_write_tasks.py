"""The drain task in a real Celery worker: a commit queues it, the worker checks and records."""

from __future__ import annotations

import time

import orjson

from console.demo.setup.write import DEMO_TABLE_RULES
from verifiers.models import OutcomeCount, VerifiedDatabase, WriteTableRule
from verifiers.tests.write_ledgers import accounts_by_currency, shadow_then_commit
from verifiers.write import services
from verifiers.write.schedule import BEAT_SCHEDULE
from verifiers.write.targets import forget_targets
from verifiers.write.tasks import PROCESS_DUE_TASK

LEDGER_ACCOUNTS = 20  # ledger_dsn (conftest.py) seeds this many accounts


def test_beat_runs_the_drain_every_second():
    assert BEAT_SCHEDULE["write-verifier-drain"]["task"] == PROCESS_DUE_TASK
    assert BEAT_SCHEDULE["write-verifier-drain"]["schedule"] == 1.0


def test_commit_queues_a_drain_that_a_worker_runs(celery_worker_process, ledger_dsn):
    forget_targets()
    for table, fields in DEMO_TABLE_RULES.items():
        WriteTableRule.objects.create(table=table, **fields)
    VerifiedDatabase.objects.create(name="ledger", dsn=ledger_dsn, commit_delay_ms=100, capture_ttl_s=60)
    source, target = accounts_by_currency(ledger_dsn, "KRW")[:2]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="1000", currency="KRW")
    services.ingest_capture(body=orjson.dumps(capture))
    assert services.register_commit(body=orjson.dumps({"id": capture["id"]})).status == "scheduled"
    deadline = time.monotonic() + 20
    matched = 0
    while time.monotonic() < deadline and matched < 6:
        time.sleep(0.2)
        matched = sum(OutcomeCount.objects.filter(kind="write").values_list("matched", flat=True))
    assert matched == 6, list(OutcomeCount.objects.filter(kind="write").values())
    forget_targets()
