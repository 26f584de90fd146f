"""Midnight reconciliation, the SQL part: statements composed with ``psycopg.sql``.

Every statement the reconciliation sends to the ledger is built here from a ``LedgerMapping``
(identifiers quoted by ``sql.Identifier``, values always as ``%(name)s`` placeholders): key
bounds and percentiles for splitting, the per-range totals/differences query, the per-account
cut-off balances export, the wait-for-old-transactions probe and the column introspection.
The mapping, key ranges, cut-off and arithmetic live in ``balances``; ``engine``
runs these statements. No Django, no database connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from verifiers.reconcile.balances import (
    DEFAULT_DIFFERENCE_CAP,
    DEFAULT_RANGE_PLAN,
    KeyRange,
    LedgerMapping,
    RangePlan,
    ReconciliationInputError,
)


def table_identifier(name: str) -> sql.Identifier:
    """``schema.table`` -> "schema"."table"; a plain name stays unqualified."""
    return sql.Identifier(*name.split("."))


def build_key_bounds_query(mapping: LedgerMapping) -> sql.Composed:
    """``min``/``max`` of the account key: two index probes on the primary key."""
    return sql.SQL("SELECT min({key}), max({key}) FROM {accounts}").format(
        key=sql.Identifier(mapping.account_key), accounts=table_identifier(mapping.accounts_table)
    )


def build_key_percentiles_query(mapping: LedgerMapping) -> sql.Composed:
    """Inner split points by count for any orderable key; parameter ``fractions`` (float[])."""
    return sql.SQL(
        "SELECT percentile_disc(%(fractions)s::float8[]) WITHIN GROUP (ORDER BY {key}) "
        "FROM {accounts}"
    ).format(
        key=sql.Identifier(mapping.account_key), accounts=table_identifier(mapping.accounts_table)
    )


# Open transactions that began before the cut-off on this database, other than ours. Only
# client backends count: autovacuum and walsender do not write ledger rows.
WAIT_QUERY = sql.SQL(
    """
    SELECT pid, now() - xact_start AS age, application_name, state, left(query, 200) AS query
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND backend_type = 'client backend'
      AND pid <> pg_backend_pid()
      AND application_name IS DISTINCT FROM %(application_name)s
      AND xact_start < %(cutoff)s
    ORDER BY xact_start
    """
)

def _range_predicate(column: sql.Composable, key_range: KeyRange) -> sql.Composable:
    conditions: list[sql.Composable] = []
    if key_range.lower is not None:
        conditions.append(sql.SQL("{} >= %(lower)s").format(column))
    if key_range.upper is not None:
        conditions.append(sql.SQL("{} < %(upper)s").format(column))
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")


def _per_account_select(
    mapping: LedgerMapping, key_range: KeyRange, plan: RangePlan
) -> sql.Composed:
    """One row per account of the range: balance now, at cut-off, journal, version."""
    key = sql.Identifier("a", mapping.account_key)
    balance = sql.Identifier("a", mapping.balance_column)
    opening: sql.Composable = (
        sql.SQL("coalesce({}, 0)").format(sql.Identifier("a", mapping.opening_balance_column))
        if mapping.opening_balance_column
        else sql.SQL("0")
    )
    version: sql.Composable = (
        sql.Identifier("a", mapping.version_column) if mapping.version_column else sql.SQL("NULL")
    )
    entry_account = sql.Identifier(mapping.entry_account_column)
    amount = sql.Identifier(mapping.entry_amount_column)
    entry_time = sql.Identifier(mapping.entry_time_column)
    sums = sql.SQL(
        "sum({amount}) FILTER (WHERE {time} < %(cutoff)s) AS sum_before, "
        "sum({amount}) FILTER (WHERE {time} >= %(cutoff)s) AS sum_after"
    ).format(amount=amount, time=entry_time)
    if plan == "join":
        entries_part = sql.SQL(
            "LEFT JOIN (SELECT {entry_account} AS account_key, {sums} FROM {entries} "
            "WHERE {entry_range} GROUP BY {entry_account}) AS e ON e.account_key = {key}"
        ).format(
            entry_account=entry_account,
            sums=sums,
            entries=table_identifier(mapping.entries_table),
            entry_range=_range_predicate(entry_account, key_range),
            key=key,
        )
    elif plan == "lateral":
        entries_part = sql.SQL(
            "CROSS JOIN LATERAL (SELECT {sums} FROM {entries} WHERE {entry_account} = {key}) AS e"
        ).format(
            sums=sums,
            entries=table_identifier(mapping.entries_table),
            entry_account=entry_account,
            key=key,
        )
    else:
        raise ReconciliationInputError(
            f"unknown range plan {plan!r} (expected 'join' or 'lateral')"
        )
    currency: sql.Composable = (
        sql.Identifier("a", mapping.currency_column)
        if mapping.currency_column
        else sql.SQL("%(currency_code)s")
    )
    return sql.SQL(
        "SELECT {key} AS account_key, {currency}::text AS currency, {balance} AS balance_now, "
        "{balance} - coalesce(e.sum_after, 0) AS balance_at_cutoff, "
        "{opening} + coalesce(e.sum_before, 0) AS journal, {version} AS version "
        "FROM {accounts} AS a {entries_part} WHERE {key_range}"
    ).format(
        key=key,
        currency=currency,
        balance=balance,
        opening=opening,
        version=version,
        accounts=table_identifier(mapping.accounts_table),
        entries_part=entries_part,
        key_range=_range_predicate(key, key_range),
    )


def build_range_query(
    mapping: LedgerMapping, key_range: KeyRange, plan: RangePlan = DEFAULT_RANGE_PLAN
) -> sql.Composed:
    """One statement per range returning per-currency totals and the capped differences.

    Rows: ``row_kind`` 'total' (currency, accounts, balance_at_cutoff sum, journal sum,
    differences count) and 'difference' (one per account whose balance at cut-off differs from
    its journal, in key order, at most ``%(cap)s``). Parameters: ``cutoff``, ``cap`` and the
    range bounds (``range_query_params``). The per-account rows are materialised once so the
    entries are read a single time for both the totals and the differences.
    """
    return sql.SQL(
        """
        WITH per_account AS MATERIALIZED ({per_account})
        SELECT 'total' AS row_kind, currency, count(*) AS accounts,
               sum(balance_at_cutoff) AS balance_at_cutoff, sum(journal) AS journal,
               count(*) FILTER (WHERE balance_at_cutoff IS DISTINCT FROM journal) AS differences,
               NULL AS account_key, NULL::numeric AS balance_now, NULL AS version
        FROM per_account GROUP BY currency
        UNION ALL
        (SELECT 'difference', currency, NULL, balance_at_cutoff, journal, NULL,
                account_key, balance_now, version
         FROM per_account WHERE balance_at_cutoff IS DISTINCT FROM journal
         ORDER BY account_key LIMIT %(cap)s)
        """
    ).format(per_account=_per_account_select(mapping, key_range, plan))


def build_cutoff_balances_query(
    mapping: LedgerMapping, key_range: KeyRange, plan: RangePlan = DEFAULT_RANGE_PLAN
) -> sql.Composed:
    """Every account of the range with its balance at cut-off and journal (for export/proof)."""
    return sql.SQL("SELECT * FROM ({}) AS per_account ORDER BY account_key").format(
        _per_account_select(mapping, key_range, plan)
    )


def range_query_params(
    cutoff: datetime,
    key_range: KeyRange,
    diff_cap: int = DEFAULT_DIFFERENCE_CAP,
    *,
    currency_code: str | None = None,
) -> dict[str, Any]:
    """Parameters for ``build_range_query`` / ``build_cutoff_balances_query`` (and their MySQL
    twins). ``cutoff`` as ``balances.cutoff_parameter`` gives it for the business-time column."""
    if diff_cap < 0:
        raise ReconciliationInputError(f"diff_cap must be >= 0, got {diff_cap}")
    params: dict[str, Any] = {"cutoff": cutoff, "cap": diff_cap}
    if currency_code:
        params["currency_code"] = currency_code
    if key_range.lower is not None:
        params["lower"] = key_range.lower
    if key_range.upper is not None:
        params["upper"] = key_range.upper
    return params
