"""Running a write conformance corpus end to end (shared by the PostgreSQL and MySQL corpora).

Per case the legacy runs its transaction for real; the correct and the wrong candidate capture
go through ingest (Redis), commit, the drain (generated SELECTs on the legacy, judging) and
recording. Counted: false matches (a wrong capture without a mismatch), false mismatches (a
correct capture with one), errors. All three must be 0; unsupported shapes are unverifiable
with their reason.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from verifiers.groups.verdict import Verdict
from verifiers.models import VerifiedDatabase
from verifiers.tests.write_corpus.cases import Case
from verifiers.write import services
from verifiers.write.targets import forget_targets
from verifiers.write.values import encode


def recording_verdicts(dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Verdict]]:
    """A verified database ``corpus`` on ``dsn``; yields the list every recorded verdict lands in."""
    VerifiedDatabase.objects.create(name="corpus", dsn=dsn, commit_delay_ms=0, capture_ttl_s=60)
    forget_targets()
    seen: list[Verdict] = []
    real = services.record_verdicts

    def spy(verdicts, **kwargs):
        seen.extend(verdicts)
        return real(verdicts, **kwargs)

    monkeypatch.setattr(services, "record_verdicts", spy)
    yield seen
    forget_targets()


def capture_of(case: Case, capture_id: str) -> dict[str, Any]:
    statements = case.capture if case.capture is not None else case.legacy
    return {"id": capture_id, "dialect": case.dialect,
            "statements": [{"sql": sql, "params": encode(params)} for sql, params in statements],
            "after_images": encode(case.after_images)}


def wrong_capture_of(case: Case, capture_id: str) -> dict[str, Any]:
    capture = copy.deepcopy(capture_of(case, capture_id))
    changes = case.wrong if isinstance(case.wrong[0], tuple) else (case.wrong,)
    for what, index, where, value in changes:
        if what == "param":
            capture["statements"][index]["params"][where] = encode(value)
        elif what == "sql":
            assert where in capture["statements"][index]["sql"], (case.name, where)
            capture["statements"][index]["sql"] = capture["statements"][index]["sql"].replace(where, value, 1)
        else:
            capture["after_images"][index]["row"][where] = encode(value)
    return capture


def verdicts_by_capture(recorded: list[Verdict]) -> dict[str, list[Verdict]]:
    found: dict[str, list[Verdict]] = {}
    for verdict in recorded:
        found.setdefault(verdict.sample_id.split("#", 1)[0], []).append(verdict)
    return found


def assert_corpus_exact(cases: list[Case], run_legacy: Callable[[Case], None], recorded: list[Verdict]) -> None:
    """Every case end to end: no false match, no false mismatch, no error, unsupported ones unverifiable."""
    false_matches, false_mismatches, errors, unsupported_wrongly = [], [], [], []
    verified = 0
    for number, case in enumerate(cases):
        run_legacy(case)
        good, bad = f"corpus-{number}-good", f"corpus-{number}-wrong"
        outcomes = services.ingest_captures([capture_of(case, good), wrong_capture_of(case, bad)])
        assert all(isinstance(outcome, services.IngestResult) for outcome in outcomes), (case.name, outcomes)
        services.register_commits([{"id": good}, {"id": bad}], queue_drain=False)
        recorded.clear()
        services.process_due_work(now=time.time() + 1)
        found = verdicts_by_capture(recorded)
        good_verdicts = {v.verdict for v in found.get(good, [])}
        bad_verdicts = {v.verdict for v in found.get(bad, [])}
        described = f"{case.name}: correct {sorted(good_verdicts)}, wrong {sorted(bad_verdicts)}: " + "; ".join(
            v.title for v in found.get(good, []) + found.get(bad, []) if v.verdict != "match")
        if "error" in good_verdicts | bad_verdicts:
            errors.append(described)
        if case.unverifiable:
            reasons = [v.title for v in found.get(good, [])]
            if good_verdicts != {"unverifiable"} or bad_verdicts != {"unverifiable"} or not any(
                    case.unverifiable.lower() in reason.lower() for reason in reasons):
                unsupported_wrongly.append(described)
            continue
        if good_verdicts & {"mismatch", "stale"} or "match" not in good_verdicts:
            false_mismatches.append(described)
        else:
            verified += 1
        if "mismatch" not in bad_verdicts:
            false_matches.append(described)
    print(f"corpus: {len(cases)} cases, {verified} verified, false matches {len(false_matches)}, "
          f"false mismatches {len(false_mismatches)}, errors {len(errors)}")
    for name, items in (("false match", false_matches), ("false mismatch", false_mismatches), ("error", errors),
                        ("unsupported not unverifiable", unsupported_wrongly)):
        for item in items:
            print(f"{name}: {item}")
    assert (false_matches, false_mismatches, errors, unsupported_wrongly) == ([], [], [], [])
