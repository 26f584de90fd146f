"""The read conformance corpus end to end (issue 11 item 8).

Every case's legacy answer is posted to the ingest API as a gateway would; a real
`manage.py verify_reads` process replays them against a local candidate (and a second legacy
system) over HTTP; the verdicts are read back from the mismatch-group API and the per-route
counts. Missed differences and false mismatches are counted and must both be 0.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS, VIEWERS
from verifiers.models import OutcomeCount, Route
from verifiers.tests.http_answers import AnswerServer
from verifiers.tests.read_corpus.cases import Case, build_cases
from verifiers.tests.read_support import configure_systems, make_sample

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _sample(case: Case) -> dict:
    sample = make_sample(f"corpus-{case.name}", f"/corpus/{case.name}", status=case.legacy_status)
    sample["legacy"]["headers"] = {"Content-Type": case.legacy_type}
    sample["legacy"]["body"] = case.legacy_body.decode("utf-8")
    return sample


def _run_verify_reads(database_name: str) -> None:
    from conftest import _worker_env

    process = subprocess.run(
        [sys.executable, "manage.py", "verify_reads", "--consumer", "corpus", "--batch-size", "20",
         "--block-ms", "200", "--max-idle-batches", "3"],
        cwd=ROOT, env=_worker_env(database_name), capture_output=True, timeout=240)
    assert process.returncode == 0, process.stderr.decode()[-3000:]


def test_the_corpus_gives_no_missed_difference_and_no_false_mismatch(transactional_db, client, user_with_role,
                                                                     redis_client):
    from django.db import connection

    cases = build_cases()
    assert len(cases) >= 50
    candidate = AnswerServer({f"/corpus/{case.name}": case.candidate for case in cases}).start()
    secondary = AnswerServer({f"/corpus/{case.name}": case.secondary for case in cases if case.secondary}).start()
    try:
        configure_systems(candidate.url, secondary.url)
        for case in cases:
            Route.objects.create(method="GET", template=f"/corpus/{case.name}", rules=case.rules)
        _, ingest_token = ApiToken.issue(user=user_with_role(MACHINE_CLIENTS, "gateway"), name="ingest")
        for case in cases:  # one POST per case: the largest legacy bodies are megabytes each
            response = client.post("/api/v1/read-samples", data=orjson.dumps([_sample(case)]),
                                   content_type="application/json", HTTP_AUTHORIZATION=f"Token {ingest_token}")
            assert response.status_code == 202 and response.json()["accepted"] == 1, (case.name, response.content)
        _run_verify_reads(connection.settings_dict["NAME"])
    finally:
        candidate.stop()
        secondary.stop()

    _, view_token = ApiToken.issue(user=user_with_role(VIEWERS, "viewer"), name="view")
    listed = client.get("/api/v1/mismatch-groups?kind=read&limit=500", HTTP_AUTHORIZATION=f"Token {view_token}")
    found_outcome: dict[str, str] = {}
    found_differences: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for group in listed.json()["results"]:
        name = group["subject"].removeprefix("GET /corpus/")
        found_outcome[name] = group["outcome"]
        found_differences[name] |= {(d["pattern"], d["kind"]) for d in group["differences"]}
    counted = {row.subject.removeprefix("GET /corpus/"): row for row in OutcomeCount.objects.filter(kind="read")}

    missed, false_mismatches, report = [], [], []
    for case in cases:
        row = counted.get(case.name)
        assert row is not None and row.matched + row.mismatched + row.errored == 1, f"{case.name}: no single verdict"
        outcome = "error" if row.errored else "mismatch" if row.mismatched else "match"
        assert outcome == "match" or found_outcome.get(case.name) == outcome, case.name
        differences = found_differences.get(case.name, set())
        if case.expected == "match" and outcome != "match":
            false_mismatches.append(case.name)
        elif case.expected != "match" and outcome == "match":
            missed.append(case.name)
        elif case.expected == "mismatch" and differences != case.differences:
            (missed if case.differences - differences else false_mismatches).append(case.name)
        elif case.expected != outcome:
            false_mismatches.append(case.name)
        report.append(f"{case.name}: expected {case.expected}, got {outcome} {sorted(differences)}")
    print(f"\nread corpus: {len(cases)} cases, {len(missed)} missed differences, "
          f"{len(false_mismatches)} false mismatches")
    assert (missed, false_mismatches) == ([], []), "\n".join(report)
