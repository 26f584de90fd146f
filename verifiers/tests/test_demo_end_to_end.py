"""The demo world against the real verifiers, end to end (issues 3 and 4).

A throwaway demo ledger with its legacy and candidate services on free ports; the console
configured as `manage.py setup_demo` configures it (pointed at those ports and that ledger);
traffic as the demo's generator sends it, on accounts chosen to show each deliberate difference.

* Reads: samples of legacy answers are ingested into the Redis stream and a REAL
  `manage.py verify_reads` process replays them against the candidate (and the legacy a second
  time, for noise). Every deliberate read difference must be its own group, exactly; matching
  reads must match; the noise (traceId, servedAt, X-Trace-Id) must appear nowhere.
* Writes: transfers shadowed on the candidate, committed by the legacy, checked by the write
  verifier: the USD fee difference is found, the correct transfer's rows match.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from django.db.models import Sum

from console.demo import WON_MIGRATION
from console.demo.setup import read as read_demo
from console.demo.setup import write as write_demo
from verifiers.models import (
    MismatchGroup,
    MismatchSample,
    NoiseSuggestion,
    OutcomeCount,
    System,
    VerifiedSample,
)
from verifiers.read import services as read_services
from verifiers.read import stream
from verifiers.read.ingest import parse_batch
from verifiers.tests.demo_world_fixture import DemoWorld, TransferRequestBody
from verifiers.write import services as write_services
from verifiers.write.targets import forget_targets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
NOISE_WORDS = ("traceid", "servedat", "x-trace-id")
ACCOUNT, BALANCE, HISTORY = "GET /accounts/{id}", "GET /accounts/{id}/balance", "GET /accounts/{id}/transactions"
HISTORY_QUERY = "limit=20"  # above every seeded account's 2-6 entries: no tie is cut by the limit
SAMPLES_PER_CASE = 3
WORKER_SECONDS = 60

# Accounts by what their seeded rows show (console/demo/README.md, "THE DELIBERATE DIFFERENCES").
HAS_TIE = "EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id GROUP BY e.business_time HAVING count(*) > 1)"
HAS_EMPTY_ENTRY_MEMO = "EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND e.memo = '')"
HAS_HALF_CENT_ENTRY = "EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND (e.amount * 1000) % 20 = 5)"
HALF_CENT_BALANCE = "(a.balance * 1000) % 20 = 5"


def _accounts(where: str) -> str:
    return f"SELECT a.id FROM accounts a WHERE {where} ORDER BY a.id"


# (case, subject, path template, SQL choosing its accounts, the group's exact {(pattern, kind)};
#  an empty set means the reads must match).
READ_CASES: list[tuple[str, str, str, str, frozenset[tuple[str, str]]]] = [
    ("empty account memo", ACCOUNT, "/accounts/{}", _accounts("a.memo = ''"), frozenset({("$.memo", "missing")})),
    ("account memo present", ACCOUNT, "/accounts/{}", _accounts("a.memo <> ''"), frozenset()),
    (
        "USD half-cent balance",
        BALANCE,
        "/accounts/{}/balance",
        _accounts(f"a.currency = 'USD' AND {HALF_CENT_BALANCE}"),
        frozenset({("$.balance", "changed"), ("$.available", "changed")}),
    ),
    (
        "USD balance rounding alike",
        BALANCE,
        "/accounts/{}/balance",
        _accounts(f"a.currency = 'USD' AND NOT {HALF_CENT_BALANCE}"),
        frozenset(),
    ),
    ("KRW balance", BALANCE, "/accounts/{}/balance", _accounts("a.currency = 'KRW'"), frozenset()),
    (
        "tied business times",
        HISTORY,
        "/accounts/{}/transactions",
        _accounts(f"a.currency <> 'USD' AND {HAS_TIE} AND NOT {HAS_EMPTY_ENTRY_MEMO}"),
        frozenset({("$.items", "order_only")}),
    ),
    (
        "empty entry memos",
        HISTORY,
        "/accounts/{}/transactions",
        _accounts(f"a.currency <> 'USD' AND NOT {HAS_TIE} AND {HAS_EMPTY_ENTRY_MEMO}"),
        frozenset({("$.items[*].memo", "missing")}),
    ),
    (
        "USD half-cent entry amounts",
        HISTORY,
        "/accounts/{}/transactions",
        _accounts(f"a.currency = 'USD' AND NOT {HAS_TIE} AND NOT {HAS_EMPTY_ENTRY_MEMO} AND {HAS_HALF_CENT_ENTRY}"),
        frozenset({("$.items[*].amount", "changed")}),
    ),
    (
        "clean history",
        HISTORY,
        "/accounts/{}/transactions",
        _accounts(f"a.currency <> 'USD' AND NOT {HAS_TIE} AND NOT {HAS_EMPTY_ENTRY_MEMO}"),
        frozenset(),
    ),
]
STATUS_DIFFERENCE = frozenset({("status", "status")})


@pytest.fixture(scope="module")
def demo_world() -> Iterator[DemoWorld]:
    world = DemoWorld.start()
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def demo_console(demo_world: DemoWorld, transactional_db, settings) -> Iterator[DemoWorld]:
    """The console as `manage.py setup_demo` leaves it, pointed at this test's demo world."""
    command = types.SimpleNamespace(stdout=io.StringIO())
    read_demo.setup_demo(command)
    by_role: dict[Any, str] = {System.Role.CANDIDATE: demo_world.candidate_url, System.Role.LEGACY_SECONDARY: demo_world.legacy_url}
    for spec in read_demo.DEMO_SYSTEMS:
        System.objects.filter(name=spec["name"]).update(base_url=by_role[spec["role"]])
    settings.DEMO_LEDGER_URL = demo_world.dsn
    write_demo.setup_demo(command)
    forget_targets()
    yield demo_world
    forget_targets()


def _group_key(group: MismatchGroup) -> tuple[str, frozenset[tuple[str, str]]]:
    return group.subject, frozenset((d["pattern"], d["kind"]) for d in group.differences)


def _run_read_worker(database_name: str) -> None:
    """A real `manage.py verify_reads` against the test database and Redis; it exits once idle."""
    from conftest import _worker_env

    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "verify_reads",
            "--consumer",
            "e2e",
            "--batch-size",
            "50",
            "--block-ms",
            "200",
            "--max-idle-batches",
            "3",
        ],
        cwd=ROOT,
        env=_worker_env(database_name),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _, stderr = process.communicate(timeout=WORKER_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
        pytest.fail(f"verify_reads did not go idle within {WORKER_SECONDS} s: {stderr.decode()[-2000:]}")
    assert process.returncode == 0, stderr.decode()[-2000:]


def test_every_deliberate_read_difference_is_its_own_group_and_noise_is_none(demo_console, redis_client):
    from django.db import connection

    world = demo_console
    samples: list[dict[str, Any]] = []
    expected_groups: Counter[tuple[str, frozenset[tuple[str, str]]]] = Counter()
    expected_matches: Counter[str] = Counter()
    for _, subject, template, sql, differences in READ_CASES:
        query = HISTORY_QUERY if subject == HISTORY else ""
        for account_id in world.account_ids(sql, count=SAMPLES_PER_CASE, path_template=template, query=query):
            samples.append(world.legacy_read_sample(template.format(account_id), query))
            if differences:
                expected_groups[(subject, differences)] += 1
            else:
                expected_matches[subject] += 1
    for subject, template in ((ACCOUNT, "/accounts/{}"), (BALANCE, "/accounts/{}/balance")):
        for account_id in world.failing_account_ids(template, count=2):
            samples.append(world.legacy_read_sample(template.format(account_id)))
            expected_groups[(subject, STATUS_DIFFERENCE)] += 1
    assert all(sample["legacy"]["status"] == 200 for sample in samples)

    result = read_services.ingest_samples(
        batch=parse_batch(orjson.dumps(samples), "application/json"), client=redis_client, migration=WON_MIGRATION
    )
    assert result.accepted == len(samples)
    _run_read_worker(connection.settings_dict["NAME"])

    assert redis_client.xlen(stream.STREAM_KEY) == 0 and stream.pending_count(redis_client) == 0
    assert VerifiedSample.objects.filter(kind="read").count() == len(samples)
    groups = list(MismatchGroup.objects.filter(kind="read"))
    # Each deliberate difference is exactly one group, counting exactly its samples: nothing else.
    found = {_group_key(group): group.count for group in groups}
    assert len(found) == len(groups) and found == dict(expected_groups)
    counts = OutcomeCount.objects.filter(kind="read")
    matched = {row["subject"]: row["matched"] for row in counts.values("subject").annotate(matched=Sum("matched"))}
    assert matched == dict(expected_matches)
    assert counts.aggregate(Sum("mismatched"))["mismatched__sum"] == sum(expected_groups.values())
    assert counts.aggregate(Sum("errored"))["errored__sum"] == 0
    # The noise is ignored by the demo rules: in no group, no stored difference, no open suggestion.
    recorded = (
        orjson.dumps(
            [
                [(group.title, group.differences) for group in groups],
                list(MismatchSample.objects.values_list("differences", flat=True)),
                list(NoiseSuggestion.objects.filter(status="suggested").values_list("pattern", flat=True)),
            ]
        )
        .decode()
        .lower()
    )
    assert not [word for word in NOISE_WORDS if word in recorded], recorded
    # ... yet the second legacy call really ran and saw it: counted as covered by the ignore rules.
    covered = {
        row["pattern"]: row["seen"]
        for row in NoiseSuggestion.objects.filter(status="accepted").values("pattern").annotate(seen=Sum("count"))
    }  # one row per route: summed
    assert set(covered) == {"$.traceId", "$.servedAt"} and covered["$.traceId"] == len(samples)


def _ledger_accounts(dsn: str, currency: str, minimum_balance: int) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id FROM accounts WHERE currency = %s AND balance >= %s ORDER BY id", (currency, minimum_balance)
        ).fetchall()
    return [row[0] for row in rows]


def _check_until_recorded(expected_rows: int, seconds: float = 30) -> Counter[str]:
    """Run the write checker (as its drain task does) until every expected row has a verdict."""
    verdicts: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while sum(verdicts.values()) < expected_rows and time.monotonic() < deadline:
        summary = write_services.process_due_work()
        verdicts.update(summary.verdicts)
        if not summary.claimed:
            time.sleep(0.05)  # the demo database's commit delay (200 ms) has not passed yet
    return verdicts


def test_usd_fee_difference_is_found_and_correct_transfers_match(demo_console):
    world = demo_console
    usd = _ledger_accounts(world.dsn, "USD", 100)
    krw = _ledger_accounts(world.dsn, "KRW", 100_000)
    fee_differs = TransferRequestBody(source=usd[0], target=usd[1], amount="25", currency="USD")
    fee_alike = TransferRequestBody(source=usd[2], target=usd[3], amount="30", currency="USD")
    krw_transfer = TransferRequestBody(source=krw[0], target=krw[1], amount="25000", currency="KRW")
    transfers = (fee_differs, fee_alike, krw_transfer)
    for transfer in transfers:  # the traffic generator's order: shadow, capture, commit, report
        capture = world.shadow_capture(transfer)
        ingested = write_services.ingest_capture(body=orjson.dumps(capture))
        assert (ingested.status, ingested.row_checks, ingested.unverifiable) == ("stored", 6, [])
        status, body = world.legacy_commit(transfer)
        assert status == 201, body
        commit = write_services.register_commit(body=orjson.dumps({"id": transfer.transfer_id}), queue_drain=False)
        assert commit.status == "scheduled"

    verdicts = _check_until_recorded(6 * len(transfers))
    assert verdicts == {"match": 6 * len(transfers) - 1, "mismatch": 1}
    group = MismatchGroup.objects.get(kind="write")
    assert (group.subject, group.title, group.count) == ("transfers", "INSERT transfers: fee changed", 1)
    sample = group.samples.get()
    assert sample.sample_id.startswith(fee_differs.transfer_id)
    assert [(d["path"], Decimal(d["legacy"]), Decimal(d["candidate"])) for d in sample.differences] == [
        ("$.fee", Decimal("0.03"), Decimal("0.02"))
    ]  # legacy HALF_UP, candidate HALF_EVEN of $0.025
    for correct in (fee_alike, krw_transfer):
        # The write verifier claims each capture's check once against redelivery (one row, not six).
        claims = VerifiedSample.objects.filter(kind="write", sample_id=f"check:{correct.transfer_id}")
        assert claims.count() == 1
        assert not MismatchSample.objects.filter(sample_id__startswith=correct.transfer_id).exists()
    matched = OutcomeCount.objects.filter(kind="write").aggregate(Sum("matched"))["matched__sum"]
    assert matched == 6 * len(transfers) - 1 > 0
