"""The write verifier end to end on a throwaway demo ledger: capture -> commit -> check -> outcomes.

Transfers run through the demo world's own code (shadow on the candidate flavor, commit on the
legacy flavor), so these tests also prove the demo's deliberate write difference is found.
"""

from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from console.demo.setup.write import DEMO_TABLE_RULES
from verifiers.models import MismatchGroup, MismatchSample, OutcomeCount, VerifiedDatabase, WriteTableRule
from verifiers.tests.write_ledgers import accounts_by_currency, shadow_then_commit
from verifiers.write import services, verdicts
from verifiers.write.targets import forget_targets

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_write_targets")]

LEDGER_ACCOUNTS = 60  # ledger_dsn (conftest.py) seeds this many accounts


@pytest.fixture
def verified_db(ledger_dsn):
    for table, fields in DEMO_TABLE_RULES.items():
        WriteTableRule.objects.create(table=table, **fields)
    return VerifiedDatabase.objects.create(name="ledger", dsn=ledger_dsn, commit_delay_ms=0, capture_ttl_s=60)


def ingest(capture: dict, **kwargs) -> services.IngestResult:
    return services.ingest_capture(body=orjson.dumps(capture), **kwargs)


def commit(capture_id: str, **kwargs) -> services.CommitResult:
    return services.register_commit(body=orjson.dumps({"id": capture_id}), queue_drain=False, **kwargs)


def verdicts_of(summary: services.ProcessSummary) -> dict[str, int]:
    return dict(summary.verdicts)


def test_correct_transfer_matches_on_every_row(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "KRW")[:2]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="1000", currency="KRW")
    assert ingest(capture).row_checks == 6
    assert commit(capture["id"]).status == "scheduled"
    summary = services.process_due_work()
    assert verdicts_of(summary) == {"match": 6}
    counts = {c.subject: c.matched for c in OutcomeCount.objects.filter(kind="write")}
    assert counts == {"accounts": 2, "transfers": 1, "entries": 2, "audit_log": 1}


def test_usd_fee_rounding_difference_is_found(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "USD", minimum_balance=100)[:2]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="25", currency="USD")
    ingest(capture)
    commit(capture["id"])
    summary = services.process_due_work()
    assert verdicts_of(summary) == {"match": 5, "mismatch": 1}
    group = MismatchGroup.objects.get(kind="write")
    assert (group.subject, group.title) == ("transfers", "INSERT transfers: fee changed")
    sample = group.samples.get()
    assert sample.differences[0]["legacy"] in ("0.0300", "0.03")
    assert sample.differences[0]["candidate"] == "0.02"
    assert sample.select_sql.startswith('SELECT "id"')
    assert sample.request["statements"][2]["sql"].startswith("INSERT INTO transfers")


def test_usd_fee_without_half_cent_matches(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "USD", minimum_balance=100)[:2]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="30", currency="USD")
    ingest(capture)
    commit(capture["id"])
    assert verdicts_of(services.process_due_work()) == {"match": 6}


def test_row_changed_after_the_commit_is_stale(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "KRW")[2:4]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="500", currency="KRW")
    ingest(capture)
    commit(capture["id"])
    # Another transfer moves the source account on before the check runs.
    other = accounts_by_currency(ledger_dsn, "KRW")[5]
    shadow_then_commit(ledger_dsn, source=source, target=other, amount="100", currency="KRW")
    summary = services.process_due_work()
    assert summary.verdicts["stale"] == 1
    assert summary.verdicts["match"] == 5
    assert "mismatch" not in summary.verdicts


def test_capture_whose_commit_never_comes_is_orphaned(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "KRW")[6:8]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="700", currency="KRW",
                                 commit=False)
    ingest(capture)
    assert services.process_due_work().claimed == 0
    summary = services.process_due_work(now=time.time() + 61)
    assert verdicts_of(summary) == {"orphaned": 1}
    group = MismatchGroup.objects.get(kind="write", outcome="orphaned")
    assert "commit never came" in group.title


def test_commit_without_capture_is_reported(verified_db):
    assert commit("no-such-capture").status == "waiting"
    summary = services.process_due_work(now=time.time() + 31)
    assert verdicts_of(summary) == {"orphaned": 1}
    group = MismatchGroup.objects.get(kind="write")
    assert group.subject == verdicts.NO_CAPTURE_SUBJECT
    assert group.title.startswith("Commit without a capture")


def test_duplicate_capture_and_commit_are_counted_once(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "JPY", minimum_balance=100)[:2]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="100", currency="JPY")
    assert ingest(capture).status == "stored"
    assert ingest(capture).status == "duplicate"
    commit(capture["id"])
    assert commit(capture["id"]).status == "duplicate"
    assert services.process_due_work().recorded == 6
    assert services.process_due_work(now=time.time() + 3600).claimed == 0


def test_a_capture_and_commit_sent_again_after_the_duplicate_window_report_nothing(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "KRW")[10:12]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="800", currency="KRW")
    ingest(capture)
    commit(capture["id"])
    assert services.process_due_work().recorded == 6
    store = services.write_store()
    forgotten = [store._key(f"seen:{capture['id']}"), store._key(f"committed:{capture['id']}")]
    store.client.delete(*forgotten)
    assert commit(capture["id"]).status == "waiting"  # the store cannot tell: no capture, no id
    summary = services.process_due_work(now=time.time() + 31)
    assert summary.claimed == 1 and verdicts_of(summary) == {}
    store.client.delete(*forgotten)
    assert ingest(capture).status == "stored"
    summary = services.process_due_work(now=time.time() + 61)
    assert summary.claimed == 1 and verdicts_of(summary) == {}
    assert not MismatchGroup.objects.filter(kind="write").exists()
    assert store.counts() == type(store.counts())(0, 0, 0, 0)


def test_redelivered_batch_after_a_dead_worker_is_counted_once(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "KRW")[8:10]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="900", currency="KRW")
    ingest(capture)
    commit(capture["id"])
    store = services.write_store()
    claimed = store.claim(now=time.time(), limit=10)  # a worker claims, then dies
    assert len(claimed) == 1
    summary = services.process_due_work(now=time.time() + store.lease_s + 1)
    assert summary.recorded == 6
    assert sum(c.matched for c in OutcomeCount.objects.filter(kind="write")) == 6


def test_unverifiable_statement_is_recorded_with_its_reason(verified_db):
    capture = {"id": "u1", "dialect": "postgres",
               "statements": [{"sql": "UPDATE accounts SET memo = 'x' WHERE status = 'active'", "params": None}],
               "after_images": []}
    result = ingest(capture)
    assert result.row_checks == 0
    assert "without key equality" in result.unverifiable[0]["reason"]
    commit("u1")
    assert verdicts_of(services.process_due_work()) == {"unverifiable": 1}
    group = MismatchGroup.objects.get(kind="write")
    assert group.outcome == "unverifiable" and "without key equality" in group.title


def test_reverify_reruns_the_check_now(ledger_dsn, verified_db):
    source, target = accounts_by_currency(ledger_dsn, "USD", minimum_balance=100)[2:4]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="45", currency="USD")
    ingest(capture)
    commit(capture["id"])
    services.process_due_work()
    sample = MismatchSample.objects.get(group__kind="write")
    assert services.reverify_write_samples([sample.pk]) == {sample.pk: "mismatch"}
    with psycopg.connect(ledger_dsn, autocommit=True) as conn:  # someone fixes the legacy row
        candidate_fee = capture["statements"][2]["params"][4]
        conn.execute("UPDATE transfers SET fee = %s WHERE id = %s", (candidate_fee, capture["id"]))
    assert services.reverify_write_samples([sample.pk]) == {sample.pk: "match"}
    sample.refresh_from_db()
    assert sample.reverify_outcome == "match" and sample.reverified_at is not None


def test_new_groups_are_handed_to_the_alerts_hook(ledger_dsn, verified_db, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    notified: list[list[str]] = []
    monkeypatch.setattr("console.alerts.publish", lambda events: notified.append([e.key for e in events]))
    source, target = accounts_by_currency(ledger_dsn, "USD", minimum_balance=100)[4:6]
    capture = shadow_then_commit(ledger_dsn, source=source, target=target, amount="65", currency="USD")
    ingest(capture)
    commit(capture["id"])
    with django_capture_on_commit_callbacks(execute=True):
        services.process_due_work()
    assert notified == [[f"group:{MismatchGroup.objects.get(kind='write').pk}"]]


def test_unreachable_database_stores_unconverted_and_reports_errors(verified_db):
    verified_db.dsn = "postgresql://postgres@127.0.0.1:1/nowhere"
    verified_db.save()
    capture = {"id": "x1", "dialect": "postgres",
               "statements": [{"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["m", 1]}]}
    result = ingest(capture)
    assert result.converted is False and result.status == "stored"
    commit("x1")
    summary = services.process_due_work()
    assert verdicts_of(summary) == {"error": 1}
    group = MismatchGroup.objects.get(kind="write")
    assert "cannot connect" in group.title


def test_no_verified_database_refuses_the_capture():
    with pytest.raises(services.CaptureNotAccepted, match="no enabled verified database"):
        ingest({"id": "c", "dialect": "postgres", "statements": [{"sql": "DELETE FROM t WHERE id = 1"}]})


def test_capture_with_a_nul_does_not_delay_the_good_ones(ledger_dsn, verified_db):
    bad = {"id": "nul-1", "dialect": "postgres",
           "statements": [{"sql": "UPDATE accounts SET memo = 'a\x00b' WHERE id = 1", "params": None}]}
    ingest(bad)
    commit("nul-1")
    good = []
    for pair in (accounts_by_currency(ledger_dsn, "JPY", minimum_balance=100)[2:4],
                 accounts_by_currency(ledger_dsn, "JPY", minimum_balance=100)[4:6]):
        capture = shadow_then_commit(ledger_dsn, source=pair[0], target=pair[1], amount="100", currency="JPY")
        ingest(capture)
        commit(capture["id"])
        good.append(capture["id"])
    summary = services.process_due_work()  # one drain: every capture gets its verdict now
    assert summary.claimed == 3 and summary.verdicts["match"] == 12, dict(summary.verdicts)
    assert services.write_store().counts().processing == 0
    assert MismatchSample.objects.filter(group__kind="write", sample_id__startswith="nul-1#").exists()


def test_a_capture_whose_check_fails_is_its_own_error(ledger_dsn, verified_db, monkeypatch):
    source, target = accounts_by_currency(ledger_dsn, "JPY", minimum_balance=100)[6:8]
    good = shadow_then_commit(ledger_dsn, source=source, target=target, amount="100", currency="JPY")
    broken = {"id": "broken-1", "dialect": "postgres",
              "statements": [{"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["m", 1]}]}
    for capture in (broken, good):
        ingest(capture)
        commit(capture["id"])
    real = services.row_verdict

    def failing(capture, *args, **kwargs):
        if capture["id"] == "broken-1":
            raise RuntimeError("boom")
        return real(capture, *args, **kwargs)

    monkeypatch.setattr(services, "row_verdict", failing)
    summary = services.process_due_work()
    assert verdicts_of(summary) == {"match": 6, "error": 1}
    sample = MismatchSample.objects.get(group__kind="write", sample_id="broken-1#failed")
    assert "boom" in sample.request["reason"]


def test_a_capture_whose_recording_fails_is_recorded_as_its_error(ledger_dsn, verified_db, monkeypatch):
    source, target = accounts_by_currency(ledger_dsn, "JPY", minimum_balance=100)[8:10]
    good = shadow_then_commit(ledger_dsn, source=source, target=target, amount="100", currency="JPY")
    odd = {"id": "odd-1", "dialect": "postgres", "statements": [{"sql": "TRUNCATE accounts", "params": None}]}
    for capture in (odd, good):
        ingest(capture)
        commit(capture["id"])
    real = services.record_verdicts

    def refusing(verdicts, **kwargs):
        if any(v.sample_id.startswith("odd-1#") and v.verdict == "unverifiable" for v in verdicts):
            raise ValueError("cannot store this one")
        return real(verdicts, **kwargs)

    monkeypatch.setattr(services, "record_verdicts", refusing)
    summary = services.process_due_work()
    assert verdicts_of(summary) == {"match": 6, "error": 1}
    assert "cannot store this one" in MismatchSample.objects.get(sample_id="odd-1#failed").request["reason"]


def test_transaction_touching_a_row_twice_is_checked_on_its_net_effect(ledger_dsn, verified_db):
    account = accounts_by_currency(ledger_dsn, "KRW")[12]
    transfer = "00000000-0000-0000-0000-00000000beef"
    statements = [
        ("UPDATE accounts SET memo = %s WHERE id = %s", ["first", account]),
        ("UPDATE accounts SET memo = %s, balance = 10.50 WHERE id = %s", ["second", account]),
        ("INSERT INTO audit_log (transfer_id, action) VALUES (%s, %s)", [transfer, "tmp"]),
        ("DELETE FROM audit_log WHERE transfer_id = %s AND action = %s", [transfer, "tmp"]),
    ]
    with psycopg.connect(ledger_dsn, autocommit=True) as conn:  # the legacy commits the same transaction
        with conn.transaction():
            for sql, params in statements:
                conn.execute(sql, params)
    capture = {"id": "twice-1", "dialect": "postgres",
               "statements": [{"sql": sql, "params": params} for sql, params in statements]}
    assert ingest(capture).row_checks == 2
    commit("twice-1")
    assert verdicts_of(services.process_due_work()) == {"match": 2}


def test_unknown_database_is_named_and_a_disabled_one_conflicts(verified_db):
    body = {"id": "c", "dialect": "postgres", "statements": [{"sql": "DELETE FROM t WHERE id = 1"}]}
    with pytest.raises(services.CaptureError, match="unknown verified database 'nope'; known: 'ledger'") as error:
        ingest({**body, "database": "nope"})
    assert error.value.status == 400
    verified_db.enabled = False
    verified_db.save()
    forget_targets()
    with pytest.raises(services.CaptureConflict, match="disabled"):
        ingest({**body, "database": "ledger"})
