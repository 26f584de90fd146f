"""Midnight reconciliation, the pure part: mapping, key ranges, cut-off and arithmetic.

The ledger schema is the bank's, so a ``LedgerMapping`` names its tables and columns;
``ledger_sql`` composes every statement from it with ``psycopg.sql``. The key ranges a run is
split into, the arithmetic that combines per-range partial results, compares them with the
counterpart (bank statement / GL control totals) and decides the run's status live here, as
do the cut-off instant and the counterpart CSV parser. No Django, no database connection.

Money is ``Decimal`` end to end (``numeric`` in PostgreSQL); nothing here touches ``float``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CUTOFF_TIME = time(0, 0)
DEFAULT_TIME_ZONE = "Asia/Seoul"
APPLICATION_NAME = "mhc-reconcile"
DEFAULT_DIFFERENCE_CAP = 1000

STATUS_BALANCED = "balanced"
STATUS_DISCREPANCIES = "discrepancies"
STATUS_FAILED = "failed"

RangePlan = Literal["join", "lateral"]
# Measured on 1M accounts / 10M entries (see verifiers/benchmarks/reconcile_bench.py): the
# merge join of an accounts range with the grouped index-only scan of entries wins.
DEFAULT_RANGE_PLAN: RangePlan = "join"

KeyValue = int | str


class ReconciliationInputError(ValueError):
    """Base for bad input to the reconciliation: mapping, cut-off, counterpart, partials."""


class ProblemsError(Exception):
    """An error naming every problem found, not only the first: ``problems`` has one message each."""

    introduction = ""
    separator = "; "

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.introduction + self.separator.join(problems))


class MappingError(ProblemsError, ReconciliationInputError):
    """A ledger mapping is malformed (unknown or missing keys, unsafe identifiers)."""

    introduction = "ledger mapping is invalid: "


class CutoffError(ReconciliationInputError):
    """A cut-off is unusable: unknown time zone, naive datetime, or in the future."""


class CounterpartCsvError(ProblemsError, ReconciliationInputError):
    """A counterpart CSV has bad lines; ``problems`` lists every one with its line number."""

    introduction = "counterpart CSV is invalid:\n"
    separator = "\n"


class PartialsError(ProblemsError, ReconciliationInputError):
    """Partial results do not cover the key space exactly once: ``problems`` names what is missing,
    repeated or from another split."""


# --------------------------------------------------------------------------------------------
# Mapping


@dataclass(frozen=True)
class LedgerMapping:
    """Where the ledger keeps our concepts. Table names may be schema-qualified."""

    accounts_table: str
    account_key: str
    balance_column: str
    currency_column: str | None
    entries_table: str
    entry_account_column: str
    entry_amount_column: str
    entry_time_column: str
    opening_balance_column: str | None = None
    version_column: str | None = None
    # A single-currency ledger names its currency instead of a column holding it.
    currency_code: str | None = None
    # Business times stored without a zone (PostgreSQL timestamp, MySQL DATETIME) are wall
    # times of this IANA zone; times with a zone are instants and need none.
    business_time_zone: str = "UTC"

    def to_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_TABLE_KEYS = ("accounts_table", "entries_table")
_OPTIONAL_KEYS = ("opening_balance_column", "version_column", "currency_column")
_VALUE_KEYS = ("currency_code", "business_time_zone")
_REQUIRED_KEYS = tuple(
    f.name for f in fields(LedgerMapping) if f.name not in _OPTIONAL_KEYS + _VALUE_KEYS
)
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def _name_problem(key: str, value: object, *, qualified_allowed: bool) -> str | None:
    if not isinstance(value, str):
        return f"{key} must be a string, got {type(value).__name__}"
    parts = value.split(".")
    if len(parts) > (2 if qualified_allowed else 1) or not all(_PLAIN_NAME.match(p) for p in parts):
        shape = "a plain or schema-qualified name" if qualified_allowed else "a plain column name"
        return (
            f"{key} {value!r} is not {shape} "
            "(letters, digits, _ and $; not starting with a digit)"
        )
    return None


def mapping_from_dict(raw: Mapping[str, Any]) -> LedgerMapping:
    """Build a mapping from a dict (admin form, JSON); every problem is reported at once."""
    problems: list[str] = []
    known = set(_REQUIRED_KEYS) | set(_OPTIONAL_KEYS) | set(_VALUE_KEYS)
    unknown = sorted(set(raw) - known)
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    missing = [k for k in _REQUIRED_KEYS if raw.get(k) in (None, "")]
    if missing:
        problems.append(f"missing required keys: {', '.join(missing)}")
    values: dict[str, str | None] = {}
    for key in (*_REQUIRED_KEYS, *_OPTIONAL_KEYS):
        value = raw.get(key)
        if value in (None, ""):
            values[key] = None
            continue
        problem = _name_problem(key, value, qualified_allowed=key in _TABLE_KEYS)
        if problem:
            problems.append(problem)
        values[key] = value
    currency_code = raw.get("currency_code") or None
    if currency_code is not None and not (
        isinstance(currency_code, str) and _CURRENCY.match(currency_code)
    ):
        problems.append(f"currency_code {currency_code!r} is not a 3-letter currency code")
    if bool(currency_code) == bool(values["currency_column"]):
        problems.append(
            "give either currency_column (a column holding each account's currency) or "
            "currency_code (the one currency of a single-currency ledger), not both or neither"
        )
    business_time_zone = raw.get("business_time_zone") or "UTC"
    try:
        zone(business_time_zone)
    except CutoffError as exc:
        problems.append(f"business_time_zone: {exc}")
    if problems:
        raise MappingError(problems)
    return LedgerMapping(
        **values,  # type: ignore[arg-type]
        currency_code=currency_code.upper() if currency_code else None,
        business_time_zone=business_time_zone,
    )


# Types as information_schema.columns.data_type spells them.
_INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})
_EXACT_NUMBER_TYPES = _INTEGER_TYPES | {"numeric"}
_TEXT_TYPES = frozenset({"text", "character varying", "character"})
ZONED_TIME_TYPE = "timestamp with time zone"
ZONELESS_TIME_TYPE = "timestamp without time zone"
_TIME_TYPES = frozenset({ZONED_TIME_TYPE, ZONELESS_TIME_TYPE})
_KEY_TYPES = _EXACT_NUMBER_TYPES | _TEXT_TYPES | {"uuid"}


def _key_family(data_type: str) -> str:
    if data_type in _EXACT_NUMBER_TYPES:
        return "number"
    if data_type in _TEXT_TYPES:
        return "text"
    return data_type


def mapping_problems(
    mapping: LedgerMapping, columns_by_table: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Check a mapping against introspected columns; one clear message per problem.

    ``columns_by_table`` maps each table name as written in the mapping to ``{column:
    information_schema data_type}``; a table absent from it does not exist.
    """
    problems: list[str] = []

    def column_type(table: str, column: str | None, role: str) -> str | None:
        if column is None or table not in columns_by_table:
            return None
        columns = columns_by_table[table]
        if column not in columns:
            problems.append(
                f"column {table}.{column} ({role}) not found; "
                f"{table} has: {', '.join(sorted(columns)) or 'no columns'}"
            )
            return None
        return columns[column]

    for table in (mapping.accounts_table, mapping.entries_table):
        if table not in columns_by_table:
            problems.append(f"table {table} not found")

    accounts, entries = mapping.accounts_table, mapping.entries_table
    key_type = column_type(accounts, mapping.account_key, "account key")
    entry_key_type = column_type(entries, mapping.entry_account_column, "entry account")
    money_columns = (
        (accounts, mapping.balance_column, "balance"),
        (accounts, mapping.opening_balance_column, "opening balance"),
        (entries, mapping.entry_amount_column, "entry amount"),
    )
    for table, column, role in money_columns:
        data_type = column_type(table, column, role)
        if data_type is not None and data_type not in _EXACT_NUMBER_TYPES:
            problems.append(
                f"column {table}.{column} ({role}) is {data_type}; money must be numeric "
                "or an integer type (exact), not floating point or text"
            )
    currency_type = column_type(accounts, mapping.currency_column, "currency")
    if mapping.currency_column and currency_type is not None and currency_type not in _TEXT_TYPES:
        problems.append(
            f"column {accounts}.{mapping.currency_column} (currency) is {currency_type}; "
            "expected a text type holding ISO codes"
        )
    time_type = column_type(entries, mapping.entry_time_column, "business time")
    if time_type is not None and time_type not in _TIME_TYPES:
        problems.append(
            f"column {entries}.{mapping.entry_time_column} (business time) is {time_type}; "
            "expected timestamp with or without time zone (MySQL: DATETIME or TIMESTAMP)"
        )
    column_type(accounts, mapping.version_column, "version")
    for table, column, data_type in (
        (accounts, mapping.account_key, key_type),
        (entries, mapping.entry_account_column, entry_key_type),
    ):
        if data_type is not None and data_type not in _KEY_TYPES:
            problems.append(
                f"column {table}.{column} is {data_type}; an account key must be an integer, "
                "numeric, text or uuid so it can be ordered and split into ranges"
            )
    if (
        key_type in _KEY_TYPES
        and entry_key_type in _KEY_TYPES
        and _key_family(key_type) != _key_family(entry_key_type)
    ):
        problems.append(
            f"{entries}.{mapping.entry_account_column} is {entry_key_type} but "
            f"{accounts}.{mapping.account_key} is {key_type}; entries cannot be joined to accounts"
        )
    return problems


# --------------------------------------------------------------------------------------------
# Key ranges


@dataclass(frozen=True)
class KeyRange:
    """Half-open range ``lower <= key < upper`` of account keys; ``None`` is unbounded.

    The first range has no lower bound and the last no upper bound, so together they cover
    every key whatever its value. ``index``/``count`` let the combiner prove none is missing.
    """

    index: int
    count: int
    lower: KeyValue | None
    upper: KeyValue | None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> KeyRange:
        return cls(index=raw["index"], count=raw["count"], lower=raw["lower"], upper=raw["upper"])

    def describe(self) -> str:
        lower = "-inf" if self.lower is None else repr(self.lower)
        upper = "+inf" if self.upper is None else repr(self.upper)
        return f"range {self.index + 1}/{self.count} [{lower}, {upper})"


def ranges_from_boundaries(boundaries: Iterable[KeyValue]) -> list[KeyRange]:
    """Ranges split at the given inner boundaries (sorted, duplicates dropped)."""
    inner = sorted(set(boundaries))  # type: ignore[type-var]
    edges: list[KeyValue | None] = [None, *inner, None]
    count = len(edges) - 1
    return [KeyRange(i, count, edges[i], edges[i + 1]) for i in range(count)]


def split_integer_keys(min_key: int | None, max_key: int | None, parts: int) -> list[KeyRange]:
    """Split [min_key, max_key] into ``parts`` ranges of equal width (dense integer keys)."""
    if parts < 1:
        raise ReconciliationInputError(f"parts must be at least 1, got {parts}")
    if min_key is None or max_key is None:
        return ranges_from_boundaries([])
    width = max_key - min_key + 1
    boundaries = [min_key + (width * i) // parts for i in range(1, parts)]
    return ranges_from_boundaries(b for b in boundaries if min_key < b <= max_key)


def percentile_fractions(parts: int) -> list[float]:
    """Inner cut points for ``percentile_disc``: 1/parts, 2/parts, ... (parts - 1 of them)."""
    if parts < 1:
        raise ReconciliationInputError(f"parts must be at least 1, got {parts}")
    return [i / parts for i in range(1, parts)]


# --------------------------------------------------------------------------------------------
# Cut-off and time zones


def zone(tz_name: str) -> ZoneInfo:
    """The IANA zone, or a CutoffError naming the bad name."""
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise CutoffError(f"unknown time zone {tz_name!r} (expected an IANA name such as "
                          "'Asia/Seoul')") from exc


def cutoff_instant(
    day: date, at: time = DEFAULT_CUTOFF_TIME, tz_name: str = DEFAULT_TIME_ZONE
) -> datetime:
    """The aware instant of the cut-off ``at`` on ``day`` in ``tz_name`` (00:00 Seoul default).

    A wall time skipped by a DST change resolves per PEP 495 (fold=0), as zoneinfo does.
    """
    if at.tzinfo is not None:
        raise CutoffError("cut-off time must be a wall-clock time without tzinfo; pass tz_name")
    return datetime.combine(day, at, tzinfo=zone(tz_name))


def latest_cutoff(
    now: datetime, at: time = DEFAULT_CUTOFF_TIME, tz_name: str = DEFAULT_TIME_ZONE
) -> datetime:
    """The most recent cut-off at or before ``now`` (the one a nightly run reconciles)."""
    if now.tzinfo is None:
        raise CutoffError("now must be timezone-aware")
    local_now = now.astimezone(zone(tz_name))
    candidate = cutoff_instant(local_now.date(), at, tz_name)
    if candidate > now:
        candidate = cutoff_instant(date.fromordinal(local_now.date().toordinal() - 1), at, tz_name)
    return candidate


def validate_cutoff(cutoff: datetime, now: datetime) -> None:
    """Reject naive or future cut-offs: the balances as of a future instant are unknowable."""
    if cutoff.tzinfo is None or cutoff.utcoffset() is None:
        raise CutoffError(f"cut-off {cutoff.isoformat()} has no time zone")
    if now.tzinfo is None:
        raise CutoffError("now must be timezone-aware")
    if cutoff > now:
        local_now = now.astimezone(cutoff.tzinfo).isoformat()
        raise CutoffError(
            f"cut-off {cutoff.isoformat()} is in the future (now {local_now}); "
            "a reconciliation can only run after its cut-off"
        )


def cutoff_parameter(cutoff: datetime, time_type: str | None, business_time_zone: str) -> datetime:
    """The cut-off as the ledger's business-time column must be compared with.

    A column with a zone holds instants: the aware cut-off (in UTC). A column without one holds
    wall times of ``business_time_zone``: the cut-off's naive wall time there, so the
    comparison is wall time with wall time and no session time zone takes part (a fixed
    offset handed to PostgreSQL's SET TIME ZONE, '+09:00', would mean UTC-9).
    """
    if cutoff.tzinfo is None or cutoff.utcoffset() is None:
        raise CutoffError(f"cut-off {cutoff.isoformat()} has no time zone")
    if time_type == ZONELESS_TIME_TYPE:
        return cutoff.astimezone(zone(business_time_zone)).replace(tzinfo=None)
    return cutoff.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# Counterpart CSV


_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def parse_counterpart_csv(text: str) -> dict[str, Decimal]:
    """``currency,total`` (optional ``as_of``) -> {currency: total}; all bad lines reported.

    Currency codes are three letters, upper-cased; a currency given twice is an error.
    """
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    totals: dict[str, Decimal] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [c for c in ("currency", "total") if c not in header]
            extra = [c for c in header if c not in ("currency", "total", "as_of")]
            if missing or extra or len(set(header)) != len(header):
                raise CounterpartCsvError(
                    [f"line {line}: header must be currency,total (optional as_of), got "
                     f"{','.join(row)!r}"]
                )
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: expected {len(header)} fields, got {len(row)}")
            continue
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        currency, raw_total = cells["currency"], cells["total"]
        line_ok = True
        if not _CURRENCY.match(currency):
            problems.append(f"line {line}: currency {currency!r} is not a 3-letter code")
            line_ok = False
        try:
            total = Decimal(raw_total)
            if not total.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"line {line}: amount {raw_total!r} is not a number")
            line_ok = False
        if not line_ok:
            continue
        code = currency.upper()
        if code in first_line:
            problems.append(
                f"line {line}: currency {code} already given on line {first_line[code]}"
            )
            continue
        first_line[code] = line
        totals[code] = total
    if header is None:
        problems.append("line 1: empty file; expected header currency,total")
    if problems:
        raise CounterpartCsvError(problems)
    return totals


# --------------------------------------------------------------------------------------------
# Results and arithmetic


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class CurrencyTotals:
    """Per-currency sums over a set of accounts."""

    accounts: int
    balance_total: Decimal
    journal_total: Decimal

    def __add__(self, other: CurrencyTotals) -> CurrencyTotals:
        return CurrencyTotals(
            self.accounts + other.accounts,
            self.balance_total + other.balance_total,
            self.journal_total + other.journal_total,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "balance_total": str(self.balance_total),
            "journal_total": str(self.journal_total),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CurrencyTotals:
        return cls(
            int(raw["accounts"]), _decimal(raw["balance_total"]), _decimal(raw["journal_total"])
        )


@dataclass(frozen=True)
class AccountDifference:
    """An account whose balance at cut-off is not its journal (opening + entries before C)."""

    account_key: KeyValue
    currency: str
    balance_now: Decimal
    balance_at_cutoff: Decimal
    journal: Decimal
    version: int | None = None

    @property
    def difference(self) -> Decimal:
        return self.balance_at_cutoff - self.journal

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_key": self.account_key,
            "currency": self.currency,
            "balance_now": str(self.balance_now),
            "balance_at_cutoff": str(self.balance_at_cutoff),
            "journal": str(self.journal),
            "difference": str(self.difference),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AccountDifference:
        return cls(
            account_key=raw["account_key"],
            currency=raw["currency"],
            balance_now=_decimal(raw["balance_now"]),
            balance_at_cutoff=_decimal(raw["balance_at_cutoff"]),
            journal=_decimal(raw["journal"]),
            version=raw.get("version"),
        )


@dataclass(frozen=True)
class RangeResult:
    """What one worker returns for its key range (JSON-safe through to_dict/from_dict)."""

    key_range: KeyRange
    totals: dict[str, CurrencyTotals]
    differences: list[AccountDifference]
    difference_count: int
    elapsed_s: float = 0.0

    @property
    def accounts_checked(self) -> int:
        return sum(t.accounts for t in self.totals.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_range": self.key_range.to_dict(),
            "totals": {c: t.to_dict() for c, t in self.totals.items()},
            "differences": [d.to_dict() for d in self.differences],
            "difference_count": self.difference_count,
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RangeResult:
        return cls(
            key_range=KeyRange.from_dict(raw["key_range"]),
            totals={c: CurrencyTotals.from_dict(t) for c, t in raw["totals"].items()},
            differences=[AccountDifference.from_dict(d) for d in raw["differences"]],
            difference_count=int(raw["difference_count"]),
            elapsed_s=float(raw.get("elapsed_s", 0.0)),
        )


def range_result_from_rows(
    key_range: KeyRange, rows: Iterable[tuple[Any, ...]], elapsed_s: float = 0.0
) -> RangeResult:
    """Turn the rows of ``build_range_query`` into a RangeResult."""
    totals: dict[str, CurrencyTotals] = {}
    differences: list[AccountDifference] = []
    difference_count = 0
    for kind, currency, accounts, balance, journal, diffs, key, balance_now, version in rows:
        currency = currency or ""
        if kind == "total":
            totals[currency] = CurrencyTotals(
                int(accounts), balance or Decimal(0), journal or Decimal(0)
            )
            difference_count += int(diffs)
        else:
            differences.append(
                AccountDifference(key, currency, balance_now, balance, journal, version)
            )
    return RangeResult(key_range, totals, differences, difference_count, elapsed_s)


@dataclass(frozen=True)
class CombinedPartials:
    """All ranges together: totals per currency and the (capped) account differences."""

    totals: dict[str, CurrencyTotals]
    differences: list[AccountDifference]
    difference_count: int
    accounts_checked: int


def combine_partials(
    parts: Iterable[RangeResult], diff_cap: int = DEFAULT_DIFFERENCE_CAP
) -> CombinedPartials:
    """Add up range results; every range 0..count-1 must be present exactly once."""
    parts = list(parts)
    if not parts:
        raise PartialsError(["no partial results to combine"])
    counts = {p.key_range.count for p in parts}
    if len(counts) != 1:
        raise PartialsError([f"partials come from different splits (range counts {sorted(counts)})"])
    (count,) = counts
    seen: dict[int, int] = {}
    for part in parts:
        seen[part.key_range.index] = seen.get(part.key_range.index, 0) + 1
    missing = [i + 1 for i in range(count) if i not in seen]
    repeated = [i + 1 for i, n in sorted(seen.items()) if n > 1]
    if missing or repeated:
        problems = []
        if missing:
            problems.append(f"missing range(s) {missing} of {count}")
        if repeated:
            problems.append(f"repeated range(s) {repeated}")
        raise PartialsError(problems)
    totals: dict[str, CurrencyTotals] = {}
    differences: list[AccountDifference] = []
    for part in sorted(parts, key=lambda p: p.key_range.index):
        for currency, part_totals in part.totals.items():
            totals[currency] = totals[currency] + part_totals if currency in totals else part_totals
        differences.extend(part.differences)
    return CombinedPartials(
        totals=dict(sorted(totals.items())),
        # Ranges are in key order and each part is in key order, so this is key order.
        differences=differences[:diff_cap],
        difference_count=sum(p.difference_count for p in parts),
        accounts_checked=sum(p.accounts_checked for p in parts),
    )


@dataclass(frozen=True)
class CurrencyDifference:
    """A currency whose ledger total at cut-off differs from the counterpart's (None: absent)."""

    currency: str
    ledger_total: Decimal | None
    counterpart_total: Decimal | None

    @property
    def difference(self) -> Decimal:
        return (self.ledger_total or Decimal(0)) - (self.counterpart_total or Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "ledger_total": None if self.ledger_total is None else str(self.ledger_total),
            "counterpart_total": (
                None if self.counterpart_total is None else str(self.counterpart_total)
            ),
            "difference": str(self.difference),
        }


def compare_with_counterpart(
    totals: Mapping[str, CurrencyTotals], counterpart: Mapping[str, Decimal]
) -> list[CurrencyDifference]:
    """Currencies whose ledger balance total at cut-off is not the counterpart's total.

    A currency on only one side is a difference too (its other side is ``None``).
    """
    differences = []
    for currency in sorted(set(totals) | set(counterpart)):
        ledger = totals[currency].balance_total if currency in totals else None
        other = counterpart.get(currency)
        if ledger is None or other is None or ledger != other:
            differences.append(CurrencyDifference(currency, ledger, other))
    return differences


def reconciliation_status(
    account_difference_count: int, currency_differences: Iterable[CurrencyDifference] = ()
) -> str:
    """'balanced' when no account and no currency differs, else 'discrepancies'."""
    if account_difference_count or list(currency_differences):
        return STATUS_DISCREPANCIES
    return STATUS_BALANCED


@dataclass(frozen=True)
class ReconciliationOutcome:
    """A finished run, ready to be recorded."""

    cutoff: datetime
    snapshot_time: datetime
    duration_s: float
    wait_s: float
    status: str
    accounts_checked: int
    totals: dict[str, CurrencyTotals]
    differences: list[AccountDifference]
    difference_count: int
    currency_differences: list[CurrencyDifference] = field(default_factory=list)
    counterpart_compared: bool = False
    range_elapsed_s: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "snapshot_time": self.snapshot_time.isoformat(),
            "duration_s": self.duration_s,
            "wait_s": self.wait_s,
            "status": self.status,
            "accounts_checked": self.accounts_checked,
            "totals": {c: t.to_dict() for c, t in self.totals.items()},
            "differences": [d.to_dict() for d in self.differences],
            "difference_count": self.difference_count,
            "currency_differences": [d.to_dict() for d in self.currency_differences],
            "counterpart_compared": self.counterpart_compared,
            "range_elapsed_s": self.range_elapsed_s,
        }
