"""Hostile captures: each gets a clear reason, and only generated SELECTs reach the legacy database.

The checker connects as a role that can only SELECT (mhc_readonly_test), and every SQL text the
verification connections send is recorded through a cursor subclass.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import orjson
import psycopg
import pytest
from psycopg import sql

from verifiers.benchmarks.support import create_test_ledger, database_url, drop_test_ledger
from verifiers.models import VerifiedDatabase
from verifiers.write import checker, services, targets
from verifiers.write.checker import SELECT_SHAPE

pytestmark = pytest.mark.django_db
READONLY_ROLE = "mhc_readonly_test"
CONTROL = ("BEGIN READ ONLY", "COMMIT", "ROLLBACK")


@pytest.fixture(scope="module")
def ledger_dsn():
    dsn = create_test_ledger(accounts=10)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READONLY_ROLE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(READONLY_ROLE)))
        database = conn.info.dbname
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                         sql.Identifier(READONLY_ROLE)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(READONLY_ROLE)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(READONLY_ROLE)))
    yield dsn
    drop_test_ledger(dsn)
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(READONLY_ROLE)))
        except psycopg.Error:
            pass  # another run's database still grants to it; that run drops it


class RecordingCursor(psycopg.Cursor):
    sent: list[str] = []

    def execute(self, query, params=None, **kwargs):
        text = query if isinstance(query, str) else query.as_string(self.connection)
        RecordingCursor.sent.append(text)
        return super().execute(query, params, **kwargs)


@pytest.fixture
def recorded(ledger_dsn, monkeypatch) -> Iterator[list[str]]:
    RecordingCursor.sent = []
    connect = functools.partial(psycopg.connect, cursor_factory=RecordingCursor)
    monkeypatch.setattr(targets, "open_verification_connection",
                        functools.partial(checker.open_verification_connection, connect=connect))
    readonly_dsn = ledger_dsn.replace("postgres@", f"{READONLY_ROLE}@", 1)
    VerifiedDatabase.objects.create(name="ledger", dsn=readonly_dsn, commit_delay_ms=0, capture_ttl_s=60)
    targets.forget_targets()
    yield RecordingCursor.sent
    targets.forget_targets()


def ledger_fingerprint(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(  # type: ignore[return-value]  # one row: SELECT of aggregates only
            "SELECT (SELECT count(*) FROM accounts), (SELECT sum(balance) FROM accounts),"
            " (SELECT string_agg(memo, ',' ORDER BY id) FROM accounts), (SELECT count(*) FROM entries),"
            " (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')"
        ).fetchone()


HOSTILE = [
    ("stacked", "postgres", "UPDATE accounts SET memo = 'x' WHERE id = 1; DROP TABLE accounts", None, "statements"),
    ("comment hides a second statement", "postgres",
     "UPDATE accounts SET memo = 'x' WHERE id = 1 /* */; DELETE FROM accounts", None, "statements"),
    ("ddl", "postgres", "DROP TABLE accounts", None, "DDL statement DROP TABLE"),
    ("truncate", "postgres", "TRUNCATE accounts", None, "TRUNCATE"),
    ("select", "postgres", "SELECT * FROM accounts", None, "SELECT"),
    ("side effect", "postgres", "UPDATE accounts SET memo = pg_terminate_backend(1)::text WHERE id = 1", None, ""),
    ("identifier injection", "postgres",
     'UPDATE "accounts"";DROP TABLE accounts;--" SET memo = 1 WHERE id = 1', None, "no key metadata"),
    ("wrong dialect", "db2", "UPDATE accounts SET memo = 'x' WHERE id = 1", None, "dialect 'db2' is not supported"),
    ("1 MB statement", "postgres", "UPDATE accounts SET memo = '" + "x" * 1_048_576 + "' WHERE id = 1", None,
     "characters"),
    ("unterminated quote", "postgres", "UPDATE accounts SET memo = 'x WHERE id = 1", None, ""),
    ("no key", "postgres", "DELETE FROM accounts", None, "key"),
]


@pytest.mark.parametrize(("name", "dialect", "statement", "params", "reason_part"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_statement_gets_a_clear_reason(recorded, name, dialect, statement, params, reason_part):
    result = services.ingest_capture(body=orjson.dumps(
        {"id": "h1", "dialect": dialect, "statements": [{"sql": statement, "params": params}]}))
    assert result.row_checks == 0
    reason = result.unverifiable[0]["reason"]
    assert len(reason) > 10 and reason_part.lower() in reason.lower()


def test_hostile_captures_change_nothing_and_send_only_generated_selects(recorded, ledger_dsn):
    before = ledger_fingerprint(ledger_dsn)
    bodies = [{"id": f"h{index}", "dialect": dialect, "statements": [{"sql": statement, "params": params}]}
              for index, (_, dialect, statement, params, _) in enumerate(HOSTILE)]
    bodies.append({"id": "inject-params", "dialect": "postgres", "statements": [
        {"sql": "UPDATE accounts SET memo = %s WHERE id = %s",
         "params": ["'; DROP TABLE accounts; --", "1; DELETE FROM accounts"]}]})
    bodies.append({"id": "inject-key", "dialect": "postgres", "statements": [
        {"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["x", "1 OR 1=1"]}]})
    bodies.append({"id": "inject-image", "dialect": "postgres", "statements": [
        {"sql": "UPDATE accounts SET balance = balance - %s WHERE id = %s", "params": ["1", 2]}],
        "after_images": [{"table": "accounts", "key": {"id": 2}, "row": {"balance": "0); DROP TABLE accounts; --"}}]})
    bodies.append({"id": "mysql-injection", "dialect": "mysql", "statements": [
        {"sql": "UPDATE accounts SET memo = 'a\\'; DROP TABLE accounts; -- ' WHERE id = 3", "params": None}]})
    for body in bodies:
        services.ingest_capture(body=orjson.dumps(body))
        services.register_commit(body=orjson.dumps({"id": body["id"]}), queue_drain=False)
    summary = services.process_due_work(now=time.time() + 1)
    assert summary.claimed == len(bodies)
    assert summary.verdicts["unverifiable"] >= len(HOSTILE)
    # The injected parameter values were bound: the legacy rows simply differ (or the key fails to cast).
    assert summary.verdicts["mismatch"] + summary.verdicts["error"] >= 3, dict(summary.verdicts)
    assert ledger_fingerprint(ledger_dsn) == before
    assert recorded, "the checker sent nothing at all"
    for text in recorded:
        normalised = " ".join(text.split())
        assert (
            normalised in CONTROL
            or normalised.startswith("SET LOCAL statement_timeout = ")
            and normalised.removeprefix("SET LOCAL statement_timeout = ").isdigit()
            or SELECT_SHAPE.match(text)
            or normalised.startswith("SELECT c.table_schema, c.table_name")  # introspection (fixed text)
            or normalised.startswith("SELECT n.nspname, c.relname, a.attname")
        ), f"unexpected SQL sent to the legacy database: {text[:200]!r}"
    assert any(SELECT_SHAPE.match(text) for text in recorded)


def test_checker_session_is_read_only_even_for_its_own_role(recorded, ledger_dsn):
    target = targets.target_for(targets.default_database())
    conn = target.verification_connection()
    assert conn.execute("SHOW default_transaction_read_only").fetchone()["default_transaction_read_only"] == "on"
    assert conn.execute("SELECT current_setting('application_name') AS n").fetchone()["n"] == "mhc-write-verifier"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("UPDATE accounts SET memo = 'x' WHERE id = 1")
