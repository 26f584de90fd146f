"""A capture's statements -> one row check per row it leaves behind: pure, no Django.

A transaction may touch one row several times (insert then update, update then update,
insert then delete). The legacy database only shows the row as finally committed, so the
checks of one capture are folded into the *net effect* per row: one expected state (or
absence) per table and key, built by applying the statements in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from verifiers.write.checker import row_check_to_json, union_select
from verifiers.write.sqlcheck import (
    AfterImageIndex,
    Expectation,
    RowCheck,
    StatementKind,
    TemplateCache,
    UnverifiableStatement,
)

UNKNOWN_TABLE: Final = "(unknown table)"
_TABLE_GUESS: Final = re.compile(
    r"^\s*(?:insert\s+(?:ignore\s+)?into|update|delete\s+from)\s+((?:[A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*)",
    re.IGNORECASE,
)


def guess_table(sql: str) -> str:
    """For display only: the table a statement names, or a placeholder (never trusted)."""
    match = _TABLE_GUESS.match(sql[:300])
    return match.group(1).lower() if match else UNKNOWN_TABLE


def _token(value: Any) -> str:
    # Captured keys arrive through JSON and drivers: 42, "42" and Decimal("42") are one key.
    return value if isinstance(value, str) else str(value)


def row_identity(check: RowCheck) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Which legacy row a check reads: its table and key values (as text, column names folded)."""
    # Once per row of every capture: inline _token, a list comprehension rather than a generator.
    return check.table.lower(), tuple(sorted([(column.lower(), value if type(value) is str else _token(value))
                                              for column, value in check.key.items()]))


@dataclass(slots=True)
class _RowState:
    check: RowCheck  # the latest statement's check: select, key, version column
    statements: list[int]
    row: int  # row index within the first statement (for stable sample ids)
    created: bool  # the capture inserted the row (it did not exist before, as far as we know)
    expected: dict[str, Any] | None  # None: absent
    unverified: dict[str, str] = field(default_factory=dict)


def _apply(state: _RowState, check: RowCheck) -> None:
    """Fold one more statement's check of the same row into its state."""
    if check.expected is Expectation.ROW_ABSENT:
        state.expected, state.unverified = None, {}
    elif check.kind is StatementKind.INSERT and (state.expected is None or not state.created):
        if state.expected is None:  # delete then insert: a new row, nothing of the old one kept
            state.expected, state.unverified, state.created = dict(check.expected), dict(check.unverified), True
        else:  # an upsert of a row the capture updated before: its values win
            _merge(state, check)
    elif state.expected is None:
        return  # an UPDATE of a row the capture deleted matches nothing
    else:
        _merge(state, check)
    merged_select = union_select(state.check.select_sql, check.select_sql)
    state.check = replace(check, select_sql=merged_select or check.select_sql)


def _merge(state: _RowState, check: RowCheck) -> None:
    assert state.expected is not None and isinstance(check.expected, dict)
    for column, value in check.expected.items():
        state.expected[column] = value
        state.unverified.pop(column, None)
    for column, reason in check.unverified.items():
        state.expected.pop(column, None)
        state.unverified[column] = reason


def net_effect(checks: list[tuple[int, int, RowCheck]]) -> list[tuple[list[int], int, RowCheck]]:
    """(statement, row, check) in statement order -> (statements, row, net check) per distinct row."""
    identities = [row_identity(check) for _, _, check in checks]
    if len(set(identities)) == len(identities):  # the common case: every row touched once
        return [([statement], row, check) for statement, row, check in checks]
    states: dict[tuple[str, tuple[tuple[str, str], ...]], _RowState] = {}
    for (statement, row, check), identity in zip(checks, identities):
        state = states.get(identity)
        if state is None:
            initial = None if check.expected is Expectation.ROW_ABSENT else dict(check.expected)
            states[identity] = _RowState(check, [statement], row, check.kind is StatementKind.INSERT, initial,
                                         dict(check.unverified))
            continue
        if state.statements[-1] != statement:
            state.statements.append(statement)
        _apply(state, check)
    folded = []
    for state in states.values():
        if len(state.statements) == 1 and state.check.expected is not Expectation.ROW_ABSENT \
                and state.expected == state.check.expected:
            folded.append((state.statements, state.row, state.check))  # touched once: the check as converted
            continue
        expected: dict[str, Any] | Literal[Expectation.ROW_ABSENT]
        if state.expected is None:
            kind, expected = StatementKind.DELETE, Expectation.ROW_ABSENT
        else:
            kind, expected = (StatementKind.INSERT if state.created else StatementKind.UPDATE), state.expected
        check = replace(state.check, kind=kind, expected=expected,
                        unverified={} if state.expected is None else state.unverified)
        folded.append((state.statements, state.row, check))
    return folded


def convert_capture(capture: Mapping[str, Any], cache: TemplateCache
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(net row checks as JSON, unverifiable statements) of a capture, through a template cache.

    A statement that raises anything while converting is reported unverifiable with the
    reason; it never fails the capture's other statements or other captures.
    """
    converted: list[tuple[int, int, RowCheck]] = []
    unverifiable: list[dict[str, Any]] = []
    images = AfterImageIndex(capture.get("after_images") or [])  # grouped by table once, not per statement
    for index, statement in enumerate(capture["statements"]):
        sql = statement["sql"]
        try:
            rows = cache.check_rows(sql, capture["dialect"], statement.get("params"), images)
        except UnverifiableStatement as error:
            unverifiable.append({"statement": index, "table": guess_table(sql), "reason": error.reason})
            continue
        except (TypeError, ValueError, KeyError, IndexError) as error:  # malformed params for the template
            unverifiable.append({"statement": index, "table": guess_table(sql),
                                 "reason": f"parameters do not fit the statement: {error}"})
            continue
        converted.extend((index, row_index, row) for row_index, row in enumerate(rows))
    checks = []
    for statements, row, check in net_effect(converted):
        blind_spot = _unknown_later_write(check.table, statements[-1], capture["statements"], unverifiable)
        if blind_spot is not None:
            unverifiable.append({"statement": statements[0], "table": check.table, "reason": blind_spot})
            continue
        checks.append({"statement": statements[0], "statements": statements, "row": row,
                       "check": row_check_to_json(check)})
    return checks, unverifiable


_NOT_A_WRITE: Final = re.compile(r"\s*(?:select|set|show|begin|start|commit|rollback|savepoint|release)\b",
                                 re.IGNORECASE)


def _bare(table: str) -> str:
    return table.lower().replace('"', "").replace("`", "").rsplit(".", 1)[-1]


def _unknown_later_write(table: str, last_statement: int, statements: list[dict[str, Any]],
                         unverifiable: list[dict[str, Any]]) -> str | None:
    """Why a row's final state is unknown: a later unverifiable write may have changed its table."""
    for item in unverifiable:
        index = item["statement"]
        if not isinstance(index, int) or index <= last_statement or _NOT_A_WRITE.match(statements[index]["sql"]):
            continue
        if item["table"] == UNKNOWN_TABLE or _bare(item["table"]) == _bare(table):
            return (f"statement {index} after this row's last write is unverifiable and may write "
                    f"{table}: the row's final state is unknown")
    return None
