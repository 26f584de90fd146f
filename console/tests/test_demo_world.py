"""The demo world: seeded ledger, legacy and candidate services, their deliberate differences,
shadow and committed transfers, drift injection, and the traffic generator's console batches.

The world is Django-free: verifiers' end-to-end ``DemoWorld``, a throwaway ledger database on the
server of DATABASE_URL (dropped at the end) and the services started in-process on free ports, in
a background thread with its own event loop.
"""

from __future__ import annotations

import ast
import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web

from console.demo import DemoWorldError
from console.demo.candidate import CANDIDATE_FLAVOR
from console.demo.fx_ledger import (
    CANDIDATE_DEPOSIT_MEMO,
    DRIFT_ACCOUNT,
    DRIFT_AMOUNT,
    FX_ACCOUNT_COUNT,
    LEGACY_DEPOSIT_MEMO,
    SEOUL_OFFSET,
    FxConsole,
    FxWriterStats,
    accounts_off_journal,
    drop_fx_ledger,
    init_fx_ledger,
    inject_fx_drift,
    run_fx_writers,
    write_one,
)
from console.demo.ledger import (
    LedgerRequestError,
    format_money,
    parse_limit,
    parse_transfer_request,
    read_fails,
    transfer_fee,
)
from console.demo.legacy import LEGACY_FLAVOR, start_app
from console.demo.schema import (
    accounts_breaking_invariant,
    init_ledger,
    inject_drift,
)
from console.demo.traffic import (
    CAPTURE_FIELDS,
    READ_SAMPLES_PATH,
    WRITE_CAPTURES_PATH,
    WRITE_COMMITS_PATH,
    TrafficConfig,
    TrafficStats,
    load_account_book,
    run_traffic,
)
from verifiers.tests.demo_world_fixture import BackgroundLoop, DemoWorld, bound_socket

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("traceId", "servedAt")


@dataclass
class FakeConsole:
    """Records what the traffic generator posts; answers `status` on every endpoint."""

    status: int = 202
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            self.received.append((request.path, dict(request.headers), await request.read()))
            return web.json_response({"ok": self.status < 300}, status=self.status)

        app = web.Application()
        app.router.add_post("/{tail:.*}", record)
        return app

    def bodies(self, path: str) -> list[Any]:
        return [json.loads(body) for got_path, _, body in self.received if got_path == path]


@pytest.fixture(scope="module")
def world() -> Iterator[DemoWorld]:
    world = DemoWorld.start()
    yield world
    world.close()


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def both(world: DemoWorld, path: str) -> tuple[Any, Any]:
    """The legacy's and the candidate's 200 bodies for a path, noise removed."""
    answers = []
    for base in (world.legacy_url, world.candidate_url):
        status, _, body = call(base + path)
        assert status == 200, (base, path, body)
        answers.append({k: v for k, v in body.items() if k not in NOISE})
    return answers[0], answers[1]


def query(world: DemoWorld, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(world.dsn) as conn:
        return conn.execute(sql, params).fetchall()


def ledger_state(world: DemoWorld) -> tuple[Any, ...]:
    return query(
        world,
        """
        SELECT (SELECT sum(balance) FROM accounts), (SELECT sum(version) FROM accounts),
               (SELECT max(updated_at) FROM accounts), (SELECT count(*) FROM entries),
               (SELECT count(*) FROM transfers), (SELECT count(*) FROM audit_log)""",
    )[0]


def accounts_in(world: DemoWorld, currency: str, count: int) -> list[tuple[int, Decimal]]:
    return query(
        world,
        "SELECT id, balance FROM accounts WHERE currency = %s ORDER BY id LIMIT %s",
        (currency, count),
    )


def transfer(
    source: int, target: int, amount: str, currency: str, transfer_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": transfer_id or str(uuid.uuid4()),
        "from": source,
        "to": target,
        "amount": amount,
        "currency": currency,
    }


def read_fault_path_pair() -> tuple[str, str]:
    """A read path the candidate fails deliberately, and one it serves."""
    failing = serving = None
    for account_id in range(1, 2001):
        path = f"/accounts/{account_id}/balance"
        if read_fails(CANDIDATE_FLAVOR, "GET", path, ""):
            failing = failing or path
        else:
            serving = serving or path
        if failing and serving:
            return failing, serving
    raise AssertionError("no deliberately failing read among 2000 accounts")


# --- pure pieces ---------------------------------------------------------------------------------


def test_usd_money_rounds_half_up_in_legacy_and_half_even_in_candidate() -> None:
    assert format_money(Decimal("10.1250"), "USD", LEGACY_FLAVOR.usd_display_rounding) == "10.13"
    assert format_money(Decimal("10.1250"), "USD", CANDIDATE_FLAVOR.usd_display_rounding) == "10.12"
    assert format_money(Decimal("10.1350"), "USD", CANDIDATE_FLAVOR.usd_display_rounding) == "10.14"


def test_krw_and_jpy_show_whole_units_the_same_in_both_flavors() -> None:
    for flavor in (LEGACY_FLAVOR, CANDIDATE_FLAVOR):
        assert (
            format_money(Decimal("1234500.0000"), "KRW", flavor.usd_display_rounding) == "1234500"
        )
        assert format_money(Decimal("-700.0000"), "JPY", flavor.usd_display_rounding) == "-700"


def test_usd_fee_of_an_amount_congruent_5_mod_20_differs_between_flavors() -> None:
    assert transfer_fee(Decimal("25"), "USD", ROUND_HALF_UP) == Decimal("0.03")
    assert transfer_fee(Decimal("25"), "USD", ROUND_HALF_EVEN) == Decimal("0.02")
    assert transfer_fee(Decimal("15"), "USD", ROUND_HALF_UP) == transfer_fee(
        Decimal("15"), "USD", ROUND_HALF_EVEN
    )


def test_krw_fee_is_rounded_half_up_whatever_the_flavor() -> None:
    assert transfer_fee(Decimal("2500"), "KRW", ROUND_HALF_EVEN) == Decimal("3")


def test_candidate_fails_about_one_read_in_200_and_always_the_same_ones() -> None:
    paths = [f"/accounts/{n}/transactions" for n in range(20_000)]
    failing = [p for p in paths if read_fails(CANDIDATE_FLAVOR, "GET", p, "limit=20")]
    assert 60 <= len(failing) <= 140
    assert failing == [p for p in paths if read_fails(CANDIDATE_FLAVOR, "GET", p, "limit=20")]
    assert not any(read_fails(LEGACY_FLAVOR, "GET", p, "limit=20") for p in paths)


@pytest.mark.parametrize(
    "body, complaint",
    [
        ([], "JSON object"),
        (
            {"id": "nope", "from": 1, "to": 2, "amount": "1", "currency": "KRW"},
            "'id' must be a UUID",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 1, "amount": "1", "currency": "KRW"},
            "different",
        ),
        (
            {"id": str(uuid.uuid4()), "from": "x", "to": 2, "amount": "1", "currency": "KRW"},
            "'from'",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 2, "amount": "-5", "currency": "KRW"},
            "positive",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 2, "amount": "1.5", "currency": "KRW"},
            "decimals",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 2, "amount": "1.005", "currency": "USD"},
            "decimals",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 2, "amount": "1", "currency": "EUR"},
            "'currency'",
        ),
        (
            {"id": str(uuid.uuid4()), "from": 1, "to": 2, "amount": "1", "currency": "KRW", "x": 1},
            "unknown",
        ),
    ],
)
def test_bad_transfer_bodies_are_refused_naming_the_problem(body: Any, complaint: str) -> None:
    with pytest.raises(LedgerRequestError) as caught:
        parse_transfer_request(body)
    assert caught.value.status == 400
    assert complaint in caught.value.detail


def test_limit_outside_1_to_100_is_refused() -> None:
    assert parse_limit(None) == 20
    assert parse_limit("7") == 7
    for raw in ("0", "101", "ten"):
        with pytest.raises(LedgerRequestError, match="limit"):
            parse_limit(raw)


def test_traffic_config_refuses_a_non_positive_rate() -> None:
    with pytest.raises(DemoWorldError, match="rate"):
        TrafficConfig(
            legacy_url="http://a", candidate_url="http://b", console_url="", token="", rate=0
        )


def test_demo_world_modules_import_no_django() -> None:
    # A source check: the parent package `console` loads Celery (and with it django.conf) on
    # import, which is not the demo's doing. console/demo/setup/ is setup_demo's Django side.
    imported: set[str] = set()
    for module in (ROOT / "console" / "demo").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert {"aiohttp", "psycopg"} <= imported
    assert not imported & {"django", "celery", "rest_framework"}


# --- ledger database -----------------------------------------------------------------------------


def test_seed_is_idempotent_and_balances_equal_opening_plus_entries(world: DemoWorld) -> None:
    summary = init_ledger(world.dsn)
    assert not summary.seeded and not summary.created_database
    assert summary.accounts == 2000 and summary.entries > 4000
    assert accounts_breaking_invariant(world.dsn) == []


def test_seed_looks_like_a_korean_bank(world: DemoWorld) -> None:
    name, phone, account_no = query(
        world,
        """
        SELECT c.name, c.phone, a.account_no
        FROM accounts a JOIN customers c ON c.id = a.customer_id WHERE a.id = 1""",
    )[0]
    assert "\uac00" <= name[0] <= "\ud7a3"  # a Hangul syllable
    assert phone.startswith("010-") and len(phone) == 13
    assert len(account_no) == 14 and account_no[3] == "-" and account_no[7] == "-"
    currencies = {row[0].strip() for row in query(world, "SELECT DISTINCT currency FROM accounts")}
    assert currencies == {"KRW", "USD", "JPY"}


def test_init_ledger_refuses_a_dsn_without_a_database() -> None:
    with pytest.raises(DemoWorldError, match="names no database"):
        init_ledger("host=127.0.0.1 user=postgres")


def test_inject_drift_breaks_the_invariant_for_exactly_that_account(world: DemoWorld) -> None:
    inject_drift(world.dsn, 17, "123.45")
    try:
        breaks = accounts_breaking_invariant(world.dsn)
        assert [b.account_id for b in breaks] == [17]
        assert breaks[0].balance - breaks[0].expected_balance == Decimal("123.45")
    finally:
        inject_drift(world.dsn, 17, "-123.45")
    assert accounts_breaking_invariant(world.dsn) == []


def test_inject_drift_refuses_unknown_account_and_zero(world: DemoWorld) -> None:
    with pytest.raises(DemoWorldError, match="no account with id 999999"):
        inject_drift(world.dsn, 999_999, "1")
    with pytest.raises(DemoWorldError, match="non-zero"):
        inject_drift(world.dsn, 1, "0")


# --- routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/accounts/{id}", "/accounts/{id}/balance", "/accounts/{id}/transactions?limit=5"]
)
@pytest.mark.parametrize("service", ["legacy", "candidate"])
def test_each_read_route_answers_with_noise_fields(world: DemoWorld, service: str, path: str) -> None:
    base = world.legacy_url if service == "legacy" else world.candidate_url
    account_id = next(
        n
        for n in range(1, 100)
        if not read_fails(
            CANDIDATE_FLAVOR,
            "GET",
            path.format(id=n).split("?")[0],
            "limit=5" if "?" in path else "",
        )
    )
    status, headers, body = call(base + path.format(id=account_id))
    assert status == 200
    assert body["traceId"] == headers["X-Trace-Id"]
    assert isinstance(body["servedAt"], int)
    assert body.get("id", body.get("accountId")) == account_id


def test_balance_and_history_have_the_documented_fields(world: DemoWorld) -> None:
    legacy_balance, _ = both(world, "/accounts/2/balance")
    assert set(legacy_balance) == {"accountId", "currency", "balance", "available", "asOf"}
    busy_account = query(
        world,
        "SELECT account_id FROM entries GROUP BY account_id"
        " HAVING count(*) > 3 ORDER BY account_id LIMIT 1",
    )[0][0]
    legacy_history, _ = both(world, f"/accounts/{busy_account}/transactions?limit=3")
    assert legacy_history["count"] == len(legacy_history["items"]) == 3
    assert set(legacy_history["items"][0]) == {"entryId", "amount", "memo", "businessTime"}


def test_unknown_account_is_404_on_both(world: DemoWorld) -> None:
    for base in (world.legacy_url, world.candidate_url):
        status, _, body = call(base + "/accounts/987654/balance")
        assert (status, body["error"]) == (404, "account_not_found")


def test_two_calls_differ_only_in_the_noise_fields(world: DemoWorld) -> None:
    first = call(world.legacy_url + "/accounts/3")[2]
    second = call(world.legacy_url + "/accounts/3")[2]
    assert first["traceId"] != second["traceId"]
    assert {k: v for k, v in first.items() if k not in NOISE} == {
        k: v for k, v in second.items() if k not in NOISE
    }


def test_answers_are_identical_where_no_difference_applies(world: DemoWorld) -> None:
    account_id = query(
        world,
        """
        SELECT a.id FROM accounts a WHERE a.currency = 'KRW' AND a.memo <> ''
        AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND e.memo = '')
        AND (SELECT count(DISTINCT business_time) = count(*)
             FROM entries e WHERE e.account_id = a.id)
        ORDER BY a.id LIMIT 1""",
    )[0][0]
    for path in (
        f"/accounts/{account_id}",
        f"/accounts/{account_id}/balance",
        f"/accounts/{account_id}/transactions?limit=20",
    ):
        legacy, candidate = both(world, path)
        assert legacy == candidate, path


# --- deliberate read differences -----------------------------------------------------------------


def test_difference_1_usd_half_cent_balance_rounds_differently(world: DemoWorld) -> None:
    account_id, balance = next(
        (account_id, balance)
        for account_id, balance in accounts_in(world, "USD", 400)
        if format_money(balance, "USD", ROUND_HALF_UP)
        != format_money(balance, "USD", ROUND_HALF_EVEN)
    )
    legacy, candidate = both(world, f"/accounts/{account_id}/balance")
    assert (
        legacy["balance"]
        == legacy["available"]
        == str(balance.quantize(Decimal("0.01"), ROUND_HALF_UP))
    )
    assert candidate["balance"] == str(balance.quantize(Decimal("0.01"), ROUND_HALF_EVEN))
    assert legacy["balance"] != candidate["balance"]


def test_difference_1_usd_half_cent_entry_amount_rounds_differently(world: DemoWorld) -> None:
    account_id = query(
        world,
        """
        SELECT e.account_id FROM entries e JOIN accounts a ON a.id = e.account_id
        WHERE a.currency = 'USD' AND (e.amount * 1000) %% 20 = 5 ORDER BY e.account_id LIMIT 1""",
    )[0][0]
    legacy, candidate = both(world, f"/accounts/{account_id}/transactions?limit=100")
    legacy_amounts = {item["entryId"]: item["amount"] for item in legacy["items"]}
    candidate_amounts = {item["entryId"]: item["amount"] for item in candidate["items"]}
    differing = {k for k in legacy_amounts if legacy_amounts[k] != candidate_amounts[k]}
    assert differing
    for entry_id in differing:
        assert Decimal(legacy_amounts[entry_id]) - Decimal(candidate_amounts[entry_id]) in (
            Decimal("0.01"),
            Decimal("-0.01"),
        )


def test_difference_2_empty_memo_is_omitted_by_the_candidate(world: DemoWorld) -> None:
    empty_memo_account, kept_memo_account = (
        query(world, "SELECT min(id) FROM accounts WHERE memo = ''")[0][0],
        query(world, "SELECT min(id) FROM accounts WHERE memo <> ''")[0][0],
    )
    legacy, candidate = both(world, f"/accounts/{empty_memo_account}")
    assert legacy["memo"] == "" and "memo" not in candidate
    assert {k: v for k, v in legacy.items() if k != "memo"} == candidate
    legacy, candidate = both(world, f"/accounts/{kept_memo_account}")
    assert legacy["memo"] == candidate["memo"] != ""


def test_difference_2_empty_entry_memo_is_omitted_by_the_candidate(world: DemoWorld) -> None:
    legacy, candidate = both(world, "/accounts/1/transactions?limit=100")
    candidate_items = {item["entryId"]: item for item in candidate["items"]}
    assert any(item["memo"] == "" for item in legacy["items"])
    for legacy_item in legacy["items"]:
        candidate_item = candidate_items[legacy_item["entryId"]]
        if legacy_item["memo"] == "":
            assert "memo" not in candidate_item
        else:
            assert candidate_item["memo"] == legacy_item["memo"]


def test_difference_3_tied_business_times_come_in_opposite_entry_id_order(world: DemoWorld) -> None:
    account_id = query(
        world,
        """
        SELECT account_id FROM entries WHERE transfer_id IS NULL
        GROUP BY account_id, business_time HAVING count(*) > 1 ORDER BY account_id LIMIT 1""",
    )[0][0]
    legacy, candidate = both(world, f"/accounts/{account_id}/transactions?limit=100")
    legacy_ids = [item["entryId"] for item in legacy["items"]]
    candidate_ids = [item["entryId"] for item in candidate["items"]]
    assert legacy_ids != candidate_ids and sorted(legacy_ids) == sorted(candidate_ids)
    tied_time = next(
        item["businessTime"]
        for item in legacy["items"]
        if sum(i["businessTime"] == item["businessTime"] for i in legacy["items"]) > 1
    )
    tied_legacy = [i["entryId"] for i in legacy["items"] if i["businessTime"] == tied_time]
    tied_candidate = [i["entryId"] for i in candidate["items"] if i["businessTime"] == tied_time]
    assert tied_legacy == sorted(tied_legacy) and tied_candidate == sorted(
        tied_candidate, reverse=True
    )


def test_difference_4_candidate_answers_500_to_its_chosen_reads_every_time(world: DemoWorld) -> None:
    failing, serving = read_fault_path_pair()
    for _ in range(2):
        status, headers, body = call(world.candidate_url + failing)
        assert status == 500 and body["error"] == "internal_error" and headers["X-Trace-Id"]
    assert call(world.legacy_url + failing)[0] == 200
    assert call(world.candidate_url + serving)[0] == 200


# --- transfers -----------------------------------------------------------------------------------


def test_shadow_transfer_returns_the_capture_and_leaves_the_ledger_unchanged(world: DemoWorld) -> None:
    (source, source_balance), (target, target_balance) = accounts_in(world, "KRW", 2)
    before = ledger_state(world)
    body = transfer(source, target, "5000", "KRW")
    status, _, capture = call(world.candidate_url + "/transfers?shadow=1", "POST", body)
    assert status == 200, capture
    assert ledger_state(world) == before
    assert capture["id"] == body["id"] and capture["dialect"] == "postgres"
    assert [s["sql"].split()[0] for s in capture["statements"]] == [
        "UPDATE",
        "UPDATE",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
    ]
    assert all("%s" in s["sql"] for s in capture["statements"])
    assert capture["statements"][0]["params"] == ["5000", source]
    assert [image["table"] for image in capture["after_images"]] == [
        "accounts",
        "accounts",
        "transfers",
        "entries",
        "entries",
        "audit_log",
    ]
    debit = capture["after_images"][0]
    assert debit["key"] == {"id": source}
    assert Decimal(debit["row"]["balance"]) == source_balance - 5000
    assert Decimal(capture["after_images"][1]["row"]["balance"]) == target_balance + 5000
    assert capture["after_images"][2]["key"] == {"id": body["id"]}
    datetime.fromisoformat(debit["row"]["updated_at"])  # ISO 8601


def test_legacy_transfer_commits_and_keeps_the_invariant(world: DemoWorld) -> None:
    (source, source_balance), (target, target_balance) = accounts_in(world, "JPY", 2)
    body = transfer(source, target, "1200", "JPY")
    status, _, answer = call(world.legacy_url + "/transfers", "POST", body)
    assert status == 201, answer
    assert (answer["status"], answer["amount"], answer["fee"]) == ("completed", "1200", "1")
    balances = dict(
        query(world, "SELECT id, balance FROM accounts WHERE id IN (%s, %s)", (source, target))
    )
    assert balances == {source: source_balance - 1200, target: target_balance + 1200}
    assert (
        query(world, "SELECT count(*) FROM entries WHERE transfer_id = %s", (body["id"],))[0][0]
        == 2
    )
    assert (
        query(world, "SELECT count(*) FROM audit_log WHERE transfer_id = %s", (body["id"],))[0][0]
        == 1
    )
    assert accounts_breaking_invariant(world.dsn) == []


def test_difference_5_usd_fee_half_even_in_capture_half_up_when_committed(world: DemoWorld) -> None:
    (source, _), (target, _) = accounts_in(world, "USD", 2)
    body = transfer(source, target, "25", "USD")
    _, _, capture = call(world.candidate_url + "/transfers?shadow=1", "POST", body)
    assert capture["after_images"][2]["row"]["fee"] == "0.0200"
    assert call(world.legacy_url + "/transfers", "POST", body)[0] == 201
    assert query(world, "SELECT fee FROM transfers WHERE id = %s", (body["id"],))[0][0] == Decimal(
        "0.03"
    )


def test_insufficient_funds_is_409_on_both_and_changes_nothing(world: DemoWorld) -> None:
    (source, source_balance), (target, _) = accounts_in(world, "KRW", 2)
    before = ledger_state(world)
    body = transfer(source, target, str(int(source_balance) + 1000), "KRW")
    for url in (world.candidate_url + "/transfers?shadow=1", world.legacy_url + "/transfers"):
        status, _, answer = call(url, "POST", body)
        assert (status, answer["error"]) == (409, "insufficient_funds")
    assert ledger_state(world) == before


def test_transfer_across_currencies_is_422(world: DemoWorld) -> None:
    (krw, _), (usd, _) = accounts_in(world, "KRW", 1)[0], accounts_in(world, "USD", 1)[0]
    status, _, answer = call(
        world.legacy_url + "/transfers", "POST", transfer(krw, usd, "10", "KRW")
    )
    assert (status, answer["error"]) == (422, "currency_mismatch")


def test_same_transfer_id_twice_is_409(world: DemoWorld) -> None:
    (source, _), (target, _) = accounts_in(world, "KRW", 2)
    body = transfer(source, target, "1000", "KRW")
    assert call(world.legacy_url + "/transfers", "POST", body)[0] == 201
    status, _, answer = call(world.legacy_url + "/transfers", "POST", body)
    assert (status, answer["error"]) == (409, "duplicate_transfer")


def test_candidate_never_commits_and_legacy_has_no_shadow_mode(world: DemoWorld) -> None:
    (source, _), (target, _) = accounts_in(world, "KRW", 2)
    status, _, answer = call(
        world.candidate_url + "/transfers", "POST", transfer(source, target, "1000", "KRW")
    )
    assert (status, answer["error"]) == (403, "shadow_only")
    status, _, answer = call(
        world.legacy_url + "/transfers?shadow=1", "POST", transfer(source, target, "1000", "KRW")
    )
    assert (status, answer["error"]) == (400, "shadow_unsupported")


def test_malformed_json_body_is_400(world: DemoWorld) -> None:
    request = urllib.request.Request(world.legacy_url + "/transfers", data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"] == "bad_json"


# --- traffic generator ---------------------------------------------------------------------------


def run_traffic_against(
    world: DemoWorld, console: FakeConsole | None, **overrides: Any
) -> TrafficStats:
    async def go() -> TrafficStats:
        runner = None
        console_url = ""
        if console is not None:
            sock = bound_socket()
            runner = await start_app(console.app(), sock=sock)
            console_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            config = TrafficConfig(
                **{
                    "legacy_url": world.legacy_url,
                    "candidate_url": world.candidate_url,
                    "console_url": console_url,
                    "token": "secret-token",
                    "rate": 80.0,
                    "transfer_share": 0.3,
                    "batch_interval_s": 0.2,
                    "seed": 11,
                    **overrides,
                }
            )
            book = await load_account_book(world.dsn)
            return await run_traffic(config, book=book, duration_s=1.5)
        finally:
            if runner is not None:
                await runner.cleanup()

    return world.loop.run(go())


def test_traffic_posts_well_formed_read_sample_batches(world: DemoWorld) -> None:
    console = FakeConsole()
    stats = run_traffic_against(world, console)
    batches = console.bodies(READ_SAMPLES_PATH)
    assert batches and all(isinstance(batch, list) for batch in batches)
    samples = [sample for batch in batches for sample in batch]
    assert len(samples) == stats.reads == stats.console[READ_SAMPLES_PATH].accepted
    assert len({s["id"] for s in samples}) == len(samples)
    for sample in samples:
        assert set(sample) == {"id", "captured_at", "request", "legacy"}
        assert datetime.fromisoformat(sample["captured_at"]).utcoffset() is not None
        assert set(sample["request"]) == {"method", "path", "query", "headers", "body"}
        assert sample["request"]["method"] == "GET" and sample["request"]["body"] == ""
        assert sample["request"]["query"] in ("", "limit=10", "limit=20")
        assert set(sample["legacy"]) == {"status", "headers", "body", "latency_ms"}
        assert sample["legacy"]["status"] == 200
        assert (
            json.loads(sample["legacy"]["body"])["traceId"]
            == sample["legacy"]["headers"]["X-Trace-Id"]
        )
    for path, headers, _ in console.received:
        assert headers["Authorization"] == "Token secret-token", path


def test_traffic_sends_each_capture_before_its_commit(world: DemoWorld) -> None:
    console = FakeConsole()
    stats = run_traffic_against(world, console)
    captures = console.bodies(WRITE_CAPTURES_PATH)
    commits = console.bodies(WRITE_COMMITS_PATH)
    assert captures and commits and stats.transfers > 0
    for capture in captures:
        assert set(capture) == set(CAPTURE_FIELDS)
        assert capture["statements"] and capture["after_images"]
    assert all(set(commit) == {"id"} for commit in commits)
    order = [
        (path, json.loads(body)["id"])
        for path, _, body in console.received
        if path in (WRITE_CAPTURES_PATH, WRITE_COMMITS_PATH)
    ]
    for position, (path, transfer_id) in enumerate(order):
        if path == WRITE_COMMITS_PATH:
            assert (WRITE_CAPTURES_PATH, transfer_id) in order[:position]
    assert accounts_breaking_invariant(world.dsn) == []


def test_traffic_batches_hold_at_most_the_configured_number_of_samples(world: DemoWorld) -> None:
    console = FakeConsole()
    run_traffic_against(
        world, console, batch_max_samples=4, batch_interval_s=5.0, transfer_share=0.0
    )
    sizes = [len(batch) for batch in console.bodies(READ_SAMPLES_PATH)]
    assert sizes and max(sizes) <= 4


def test_traffic_counts_console_refusals_and_keeps_going(world: DemoWorld) -> None:
    console = FakeConsole(status=404)
    stats = run_traffic_against(world, console)
    assert stats.reads > 20 and stats.legacy_committed > 0
    tally = stats.console[READ_SAMPLES_PATH]
    assert tally.accepted == 0 and tally.rejected == stats.reads and tally.statuses[404] > 0
    assert stats.console[WRITE_CAPTURES_PATH].rejected == stats.shadow_captured


def test_traffic_with_unreachable_console_counts_failures(world: DemoWorld) -> None:
    closed_port = bound_socket().getsockname()[1]  # bound, never listening
    stats = world.loop.run(
        run_traffic(
            TrafficConfig(
                legacy_url=world.legacy_url,
                candidate_url=world.candidate_url,
                console_url=f"http://127.0.0.1:{closed_port}",
                token="t",
                rate=50,
                batch_interval_s=0.2,
                seed=3,
            ),
            ledger_url=world.dsn,
            duration_s=1.0,
        )
    )
    assert stats.reads > 0 and stats.console[READ_SAMPLES_PATH].failed == stats.reads


def test_traffic_without_console_url_only_calls_the_services(world: DemoWorld) -> None:
    stats = run_traffic_against(world, None)
    assert stats.reads > 0 and stats.transfers > 0
    assert all(t.accepted + t.rejected + t.failed == 0 for t in stats.console.values())


def test_bank_books_agree_with_the_journal_and_not_with_a_drifted_balance(world: DemoWorld) -> None:
    books_query = """
        SELECT b.currency, b.total, (SELECT sum(balance) FROM accounts a WHERE a.currency = b.currency)
        FROM bank_books b WHERE b.as_of = (now() AT TIME ZONE 'Asia/Seoul')::date + 1 ORDER BY b.currency"""
    # Tomorrow's cut-off lies after every entry: the books equal the balances.
    assert all(total == balances for _, total, balances in query(world, books_query))
    currency = query(world, "SELECT currency FROM accounts WHERE id = 17")[0][0]
    inject_drift(world.dsn, 17, "123.45")
    try:
        books, balances = {row[0]: row[1:] for row in query(world, books_query)}[currency]
        assert balances - books == Decimal("123.45")  # the books did not move with the drift
    finally:
        inject_drift(world.dsn, 17, "-123.45")


# --- the second ledger: fx deposits on MariaDB, reconciled beside the PostgreSQL one -------------


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture
def fx_ledger_url(settings) -> Iterator[str]:
    from verifiers.benchmarks.support import mysql_database_url

    url = mysql_database_url(f"mhc_demo_fx_test_{uuid.uuid4().hex[:10]}")
    settings.DEMO_FX_LEDGER_URL = url
    yield url
    drop_fx_ledger(url)


def test_fx_ledger_seed_is_idempotent_and_only_the_deliberate_drift_is_off_journal(fx_ledger_url) -> None:
    first = init_fx_ledger(fx_ledger_url)
    again = init_fx_ledger(fx_ledger_url)
    assert first.seeded and first.created_database and not again.seeded
    assert (again.accounts, again.entries) == (first.accounts, first.entries) == (FX_ACCOUNT_COUNT, first.entries)
    assert accounts_off_journal(fx_ledger_url) == {DRIFT_ACCOUNT: DRIFT_AMOUNT}
    inject_fx_drift(fx_ledger_url, 7, "12.50")
    assert accounts_off_journal(fx_ledger_url) == {7: Decimal("12.5"), DRIFT_ACCOUNT: DRIFT_AMOUNT}
    with pytest.raises(DemoWorldError, match="no account with id 999"):
        inject_fx_drift(fx_ledger_url, 999, "1")


def test_fx_ledger_is_reconciled_at_its_cutoff_under_live_writers_and_its_drift_found(
    celery_worker_process, fx_ledger_url
) -> None:
    from console.demo.setup import reconcile as reconcile_demo
    from verifiers.models import AccountDifference, LedgerSource
    from verifiers.reconcile import services

    out = _Out()
    command = type("Command", (), {"stdout": out})()
    reconcile_demo.setup_demo(command)  # creates the fx ledger and registers both sources
    source = LedgerSource.objects.get(name=reconcile_demo.FX_SOURCE_NAME)
    assert LedgerSource.objects.filter(name=reconcile_demo.DEMO_SOURCE_NAME).exists()
    assert source.schedule is not None and source.schedule.crontab.timezone.key == "Asia/Seoul"
    assert (source.cutoff_time.hour, source.business_time_zone) == (0, "Asia/Seoul")
    reconcile_demo.setup_demo(command)  # idempotent: the same source, the seeded ledger kept
    assert LedgerSource.objects.filter(name=reconcile_demo.FX_SOURCE_NAME).count() == 1

    loop = BackgroundLoop()
    stop = asyncio.Event()
    writers = asyncio.run_coroutine_threadsafe(
        run_fx_writers(fx_ledger_url, rate=20, stop=stop, seed=5), loop.loop)
    try:
        run = services.start_run(source=source, triggered_by="demo test")  # last 00:00 Seoul
        run = services.wait_for_run(run_id=run.pk, timeout_s=90)
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        stats = writers.result(30)
        loop.close()
    assert stats.commits > 0
    assert run.status == "discrepancies", run.error
    assert run.accounts_checked == FX_ACCOUNT_COUNT
    differences = {(d.account_key, d.difference) for d in AccountDifference.objects.filter(run=run)}
    assert differences == {(str(DRIFT_ACCOUNT), DRIFT_AMOUNT)}
    drift_currency = query_fx(fx_ledger_url, "SELECT currency FROM deposit_accounts WHERE id = %s", DRIFT_ACCOUNT)
    assert set(run.totals) == {"USD", "JPY", "EUR"}
    # The bank's books follow the journal: only the drifted account's currency is off, by the drift.
    assert {code: Decimal(t["difference"]) for code, t in run.totals.items()} == {
        code: DRIFT_AMOUNT if code == drift_currency else Decimal(0) for code in run.totals}


def test_setup_demo_without_mariadb_says_so_in_one_sentence_and_sets_up_the_rest(db, settings) -> None:
    from console.demo.setup import reconcile as reconcile_demo
    from verifiers.models import LedgerSource

    settings.DEMO_FX_LEDGER_URL = f"mysql://root@127.0.0.1:{bound_socket().getsockname()[1]}/fx_deposits"
    out = _Out()
    reconcile_demo.setup_demo(type("Command", (), {"stdout": out})())
    assert LedgerSource.objects.filter(name=reconcile_demo.DEMO_SOURCE_NAME).exists()
    assert not LedgerSource.objects.filter(name=reconcile_demo.FX_SOURCE_NAME).exists()
    said = [line for line in out.lines if "fx deposit ledger" in line]
    assert len(said) == 1 and "cannot connect to MariaDB/MySQL" in said[0] and said[0].count(". ") == 0


def test_fx_writes_are_shadowed_in_the_mysql_dialect_and_their_memo_difference_is_found(
    fx_ledger_url, db, settings
) -> None:
    """Difference 6 end to end: the fx writers shadow each write as the candidate and send the
    capture (mysql dialect) before the legacy commits; the console checks them against MariaDB."""
    import orjson

    from console.demo.setup import write as write_demo
    from verifiers.models import MismatchGroup
    from verifiers.tests.mysql_ledgers import server_connection
    from verifiers.write import services as write_services
    from verifiers.write.targets import forget_targets

    init_fx_ledger(fx_ledger_url)
    write_demo.setup_demo(type("Command", (), {"stdout": _Out()})())  # registers "demo fx deposits" too
    forget_targets()
    console, loop = FakeConsole(), BackgroundLoop()
    sock = bound_socket()
    runner = loop.run(start_app(console.app(), sock=sock))
    stats = FxWriterStats()
    try:
        with server_connection(fx_ledger_url) as conn:
            with conn.cursor() as cursor:
                cursor.execute("SET time_zone = %s", (SEOUL_OFFSET,))
            rng = random.Random(8)
            for _ in range(30):
                write_one(conn, rng, stats, FxConsole(f"http://127.0.0.1:{sock.getsockname()[1]}", "secret-token"))
    finally:
        loop.run(runner.cleanup())
        loop.close()
    captures, commits = console.bodies("/api/v1/write-captures"), console.bodies("/api/v1/write-commits")
    assert stats.captures_sent == len(captures) == len(commits) == stats.commits > 0
    assert {capture["dialect"] for capture in captures} == {"mysql"}
    deposits = [c["id"] for c in captures if Decimal(c["statements"][0]["params"][0]) > 0]
    assert 0 < len(deposits) < len(captures)  # withdrawals too, which write the same memo on both sides
    for capture, commit in zip(captures, commits, strict=True):  # the order the writers sent them in
        assert write_services.ingest_capture(body=orjson.dumps(capture)).row_checks == 2
        write_services.register_commit(body=orjson.dumps(commit), queue_drain=False)
    summary = write_services.process_due_work(now=time.time() + 1)
    forget_targets()
    # A later write of the same account moves its version on: that check is stale, never a mismatch.
    assert set(summary.verdicts) <= {"match", "mismatch", "stale"}, dict(summary.verdicts)
    assert summary.verdicts["mismatch"] == len(deposits)
    group = MismatchGroup.objects.get(kind="write")
    assert (group.subject, group.title, group.count) == (
        "deposit_entries", "INSERT deposit_entries: memo changed", len(deposits))
    sample = group.samples.order_by("pk").first()
    assert sample is not None and sample.sample_id.split("#")[0] in deposits
    assert [(d["path"], d["legacy"], d["candidate"]) for d in sample.differences] == [
        ("$.memo", LEGACY_DEPOSIT_MEMO, CANDIDATE_DEPOSIT_MEMO)]


def query_fx(url: str, sql_text: str, *params: Any) -> Any:
    import pymysql

    from verifiers.benchmarks.support import mysql_connection

    conn: pymysql.connections.Connection = mysql_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql_text, params)
            row = cursor.fetchone()
            assert row is not None, sql_text
            return row[0]
    finally:
        conn.close()
