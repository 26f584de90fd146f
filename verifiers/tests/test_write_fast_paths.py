"""The write verifier's speed paths keep its guarantees: batched SELECT shape, GC pause, text memo."""

from __future__ import annotations

import gc
import threading

import orjson
import pytest

from console.collector import cyclic_gc_paused
from verifiers.write.checker import (
    BATCH_SELECT_SHAPE,
    MAX_KEYS_PER_SELECT,
    SELECT_SHAPE,
    CheckerError,
    batch_select,
)
from verifiers.write.sqlcheck import TableMeta, TemplateCache, UnverifiableStatement

ROW_SELECT = 'SELECT "id", "balance" FROM "ledger"."accounts" WHERE "id" = %s'
TWO_KEYS = 'SELECT "transfer_id", "account_id", "amount" FROM "entries" WHERE "transfer_id" = %s AND "account_id" = %s'


# --- batched SELECT ---------------------------------------------------------------------------


def test_batched_select_keeps_columns_and_table_and_binds_every_key():
    sql = batch_select(ROW_SELECT).sql(3)
    assert sql == 'SELECT "id", "balance" FROM "ledger"."accounts" WHERE ("id") IN ((%s), (%s), (%s))'
    assert SELECT_SHAPE.match(sql) and BATCH_SELECT_SHAPE.match(sql)


def test_batched_select_of_a_two_column_key_binds_pairs():
    plan = batch_select(TWO_KEYS)
    assert plan.key_names == ("transfer_id", "account_id") and plan.added_names == ()
    assert plan.sql(2).endswith('WHERE ("transfer_id", "account_id") IN ((%s, %s), (%s, %s))')


def test_key_columns_missing_from_the_select_are_added_and_named():
    plan = batch_select('SELECT "balance" FROM "accounts" WHERE "id" = %s')
    assert plan.added_names == ("id",)
    assert plan.sql(1).startswith('SELECT "balance", "id" FROM "accounts"')


@pytest.mark.parametrize("sql", [
    'SELECT "id" FROM "accounts" WHERE "id" = %s OR 1=1',
    'SELECT "id" FROM "accounts" WHERE "id" = %s; DELETE FROM "accounts"',
    'SELECT pg_sleep(1) FROM "accounts" WHERE "id" = %s',
    'DELETE FROM "accounts" WHERE "id" = %s',
])
def test_only_generated_row_selects_are_batched(sql):
    with pytest.raises(CheckerError):
        batch_select(sql)


@pytest.mark.parametrize("count", [0, MAX_KEYS_PER_SELECT + 1])
def test_batch_size_is_bounded(count):
    with pytest.raises(CheckerError, match="keys"):
        batch_select(ROW_SELECT).sql(count)


@pytest.mark.parametrize("text", [
    'SELECT "id" FROM "accounts" WHERE ("id") IN ((%s), (%s)) OR 1=1',
    'SELECT "id" FROM "accounts" WHERE ("id") IN ((%s), (1))',
    'SELECT "id" FROM "accounts" WHERE ("id") IN (SELECT "id" FROM "accounts")',
    'SELECT "id" FROM "accounts" WHERE ("id") IN ()',
])
def test_select_shape_refuses_anything_but_bound_key_tuples(text):
    assert not SELECT_SHAPE.match(text)
    assert not BATCH_SELECT_SHAPE.match(text)


def test_select_shape_still_accepts_the_row_select():
    assert SELECT_SHAPE.match(TWO_KEYS)


# --- GC pause ---------------------------------------------------------------------------------------


def test_collector_is_paused_inside_and_resumes_after():
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_resumes_after_an_exception():
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("batch failed")
    assert gc.isenabled()


def test_nested_pauses_resume_only_at_the_outermost_end():
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_resume_when_the_last_ends():
    first_in, release_first = threading.Event(), threading.Event()

    def first_batch():
        with cyclic_gc_paused():
            first_in.set()
            release_first.wait(5)

    thread = threading.Thread(target=first_batch)
    thread.start()
    first_in.wait(5)
    with cyclic_gc_paused():
        pass
    still_paused = not gc.isenabled()
    release_first.set()
    thread.join(5)
    assert still_paused and gc.isenabled()


# --- the template cache keeps normalised texts --------------------------------------------------------

SCHEMA = {"accounts": TableMeta(key_columns=("id",))}


def test_same_statement_text_converts_the_same_from_the_memo():
    cache = TemplateCache(SCHEMA)
    first = cache.check_rows("UPDATE accounts SET memo = 'a' WHERE id = 5", "postgres", None)
    second = cache.check_rows("UPDATE accounts SET memo = 'a' WHERE id = 5", "postgres", None)
    other = cache.check_rows("UPDATE accounts SET memo = 'b' WHERE id = 6", "postgres", None)
    assert first == second
    assert other[0].select_params == (6,) and other[0].expected == {"memo": "b"}
    assert len(cache) == 1


def test_text_that_cannot_be_lexed_is_refused_every_time():
    cache = TemplateCache(SCHEMA)
    for _ in range(2):
        with pytest.raises(UnverifiableStatement, match="quote"):
            cache.check_rows("UPDATE accounts SET memo = 'a WHERE id = 5", "postgres", None)


# --- the stored capture -----------------------------------------------------------------------------


def test_converted_capture_is_stored_without_its_after_images(monkeypatch):
    from verifiers.write import services
    from verifiers.write.store import WriteCaptureStore

    class FakeTarget:
        cache = TemplateCache(SCHEMA)

    stored: dict[str, bytes] = {}

    def add_captures(self, captures, **kwargs):
        stored.update({capture_id: data for capture_id, data, *_ in captures})
        return ["stored"] * len(captures)

    monkeypatch.setattr(services, "default_database", lambda *a, **k: type("Db", (), {
        "pk": 1, "migration_id": 1, "capture_ttl_s": 60, "commit_delay_ms": 0})())
    monkeypatch.setattr(services, "target_for", lambda database: FakeTarget())
    monkeypatch.setattr(WriteCaptureStore, "add_captures", add_captures)
    body = {"id": "c1", "dialect": "postgres",
            "statements": [{"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["m", 1]}],
            "after_images": [{"table": "accounts", "key": {"id": 1}, "row": {"memo": "m"}}]}
    services.ingest_capture(body=orjson.dumps(body), store=WriteCaptureStore.__new__(WriteCaptureStore))
    capture = orjson.loads(stored["c1"])
    assert "after_images" not in capture
    assert capture["checks"][0]["check"]["expected"] == {"memo": "m"}
    assert capture["statements"] == body["statements"]
