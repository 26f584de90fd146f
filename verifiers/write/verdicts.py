"""Verdicts of the write verifier from captures and row outcomes: pure, no Django.

services.py loads captures, runs the checker and records; everything it records is built here.
Values shown in a sample (expected row, key, SELECT parameters) are in the JSON forms of
verifiers/write/values.py, so decimals, big integers, instants and bytes survive storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from console.masking import DEFAULT_MASKING_RULES, mask_document
from verifiers.groups.fingerprint import write_fingerprint
from verifiers.groups.verdict import Verdict
from verifiers.write.checker import RowOutcome, json_value
from verifiers.write.conversion import UNKNOWN_TABLE, guess_table
from verifiers.write.sqlcheck import Expectation, RowCheck
from verifiers.write.values import encode, storable

KIND: Final = "write"
NO_CAPTURE_SUBJECT: Final = "(commit without capture)"
# Stored with each mismatch sample (masked) so the group page shows what the candidate ran.
SAMPLE_SQL_CHARS: Final = 4000
SAMPLE_STATEMENTS: Final = 50
SEVERITY: Final = {"mismatch": "high", "error": "medium", "unverifiable": "low", "orphaned": "medium"}


def moment(epoch: float | None) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc) if epoch else datetime.now(timezone.utc)


def sample_statements(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The capture's statements as stored (params in their tagged JSON form), cut to size."""
    return [
        {"sql": s["sql"][:SAMPLE_SQL_CHARS] + ("…" if len(s["sql"]) > SAMPLE_SQL_CHARS else ""),
         "params": s.get("params")}
        for s in capture["statements"][:SAMPLE_STATEMENTS]
    ]


def sample_request(capture: Mapping[str, Any], database_name: str, *,
                   statements: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """What a sample shows of its capture; ``statements`` passes ``sample_statements`` already made.

    The row verdicts of one capture share one statements list (recording masks a copy).
    """
    return {"capture_id": capture["id"], "database": database_name, "dialect": capture["dialect"],
            "statements": sample_statements(capture) if statements is None else statements, **extra}


def first_table(capture: Mapping[str, Any]) -> str:
    for item in capture.get("checks") or ():
        return str(item["check"]["table"])
    for item in capture.get("unverifiable") or ():
        return str(item["table"])
    return guess_table(capture["statements"][0]["sql"]) if capture.get("statements") else UNKNOWN_TABLE


def unverifiable_verdicts(capture: Mapping[str, Any], database_name: str) -> list[Verdict]:
    verdicts = []
    captured_at = moment(capture.get("received_at"))
    for item in capture.get("unverifiable") or ():
        reason = str(item["reason"])
        verdicts.append(Verdict(
            kind=KIND, sample_id=f"{capture['id']}#{item['statement']}", subject=item["table"],
            captured_at=captured_at, verdict="unverifiable",
            fingerprint=write_fingerprint(item["table"], "unverifiable", [("reason", reason[:200])]),
            title=f"Unverifiable on {item['table']}: {reason}"[:300], severity=SEVERITY["unverifiable"],
            request=sample_request(capture, database_name, statement_index=item["statement"], reason=reason),
        ))
    return verdicts


def row_verdict(capture: Mapping[str, Any], item: Mapping[str, Any], check: RowCheck, outcome: RowOutcome,
                database_name: str, *, statements: list[dict[str, Any]] | None = None,
                captured_at: datetime | None = None) -> Verdict:
    if outcome.verdict == "match":  # counted, never stored: no sample to build
        return Verdict(kind=KIND, sample_id=f"{capture['id']}#{item['statement']}.{item['row']}", subject=check.table,
                       captured_at=captured_at or moment(capture.get("received_at")), verdict="match")
    expected = {} if check.expected is Expectation.ROW_ABSENT else check.expected
    return Verdict(
        kind=KIND, sample_id=f"{capture['id']}#{item['statement']}.{item['row']}", subject=check.table,
        captured_at=captured_at or moment(capture.get("received_at")), verdict=outcome.verdict,
        fingerprint=outcome.fingerprint, title=outcome.title, severity=SEVERITY.get(outcome.verdict, "medium"),
        differences=outcome.differences,
        request=sample_request(
            capture, database_name, statements=statements, statement_index=item["statement"],
            statement_indexes=item.get("statements") or [item["statement"]], table=check.table,
            statement_kind=check.kind.value, key=json_value(check.key), select_params=encode(check.select_params),
            expect_absent=check.expected is Expectation.ROW_ABSENT, version_column=check.version_column,
            unverified_columns=check.unverified, reason=outcome.reason,
        ),
        legacy=outcome.actual or {},
        candidate={**{k: json_value(v) for k, v in check.key.items()}, **json_value(expected)},
        select_sql=check.select_sql,
    )


def orphan_verdict(capture_id: str, capture: Mapping[str, Any] | None, database_name: str) -> Verdict:
    if capture is None:
        subject, request, captured_at = UNKNOWN_TABLE, {"capture_id": capture_id}, moment(None)
    else:
        subject = first_table(capture)
        request = sample_request(capture, database_name)
        captured_at = moment(capture.get("received_at"))
    ttl = capture.get("capture_ttl_s") if capture else None
    return Verdict(
        kind=KIND, sample_id=f"{capture_id}#orphaned", subject=subject, captured_at=captured_at,
        verdict="orphaned", fingerprint=write_fingerprint(subject, "capture", [("(commit)", "missing")]),
        title=f"{subject}: capture orphaned, its commit never came" + (f" (within {ttl} s)" if ttl else ""),
        severity=SEVERITY["orphaned"], request=request,
    )


def _capture_verdict(capture_id: str, suffix: str, subject: str, verdict: str, step: str, problem: tuple[str, str],
                     title: str, now: float) -> Verdict:
    """A verdict about a capture as a whole, known only by its id."""
    return Verdict(
        kind=KIND, sample_id=f"{capture_id}#{suffix}", subject=subject, captured_at=moment(now), verdict=verdict,
        fingerprint=write_fingerprint(subject, step, [problem]), title=title, severity=SEVERITY[verdict],
        request={"capture_id": capture_id},
    )


def no_capture_verdict(capture_id: str, now: float) -> Verdict:
    return _capture_verdict(capture_id, "commit", NO_CAPTURE_SUBJECT, "orphaned", "commit", ("(capture)", "missing"),
                            "Commit without a capture: the legacy committed a write the candidate never captured", now)


def expired_verdict(capture_id: str, now: float) -> Verdict:
    return _capture_verdict(capture_id, "expired", UNKNOWN_TABLE, "error", "check", ("(capture)", "expired"),
                            "Capture expired before its check ran (checker backlog or workers down)", now)


def error_without_check(capture: Mapping[str, Any], item: Mapping[str, Any], reason: str, name: str) -> Verdict:
    subject = first_table(capture)
    return Verdict(
        kind=KIND, sample_id=f"{capture['id']}#{item['statement']}.{item['row']}", subject=subject,
        captured_at=moment(capture.get("received_at")), verdict="error",
        fingerprint=write_fingerprint(subject, "check", [("(check)", "not run")]),
        title=f"{subject}: check not run: {reason}"[:300], severity=SEVERITY["error"],
        request=sample_request(capture, name, reason=reason),
    )


def capture_failed_verdict(capture_id: str, subject: str, reason: str, now: float) -> Verdict:
    """The one verdict of a capture whose check or recording failed: ``error`` with the reason.

    Carries only the id and the reason (made storable), so it records whatever broke the capture.
    """
    reason = storable(reason)[:1000]
    subject = storable(subject)[:300]
    return Verdict(
        kind=KIND, sample_id=f"{capture_id}#failed", subject=subject, captured_at=moment(now), verdict="error",
        fingerprint=write_fingerprint(subject, "capture", [("(capture)", "failed")]),
        title=f"{subject}: capture could not be checked: {reason}"[:300], severity=SEVERITY["error"],
        request={"capture_id": capture_id, "reason": reason},
    )


def write_mask(value: Any) -> Any:
    """Default masking (except the key values a reverify needs), then made storable in jsonb."""
    if isinstance(value, dict) and "select_params" in value:
        kept = value["select_params"]
        masked = mask_document(value, DEFAULT_MASKING_RULES)
        masked["select_params"] = kept
        return storable(masked)
    return storable(mask_document(value, DEFAULT_MASKING_RULES))
