"""Midnight reconciliation, the SQL part for MySQL 8 / MariaDB 10.11+ (text, ``%(name)s``).

The same statements as ``ledger_sql`` (same parameters; the range query's rows differ, see
``build_range_query``), in MySQL's words: back-quoted identifiers,
``SUM(CASE ...)`` for ``FILTER``, ``NOT (a <=> b)`` for ``IS DISTINCT FROM``, ``ROW_NUMBER()``
for ``percentile_disc``. No Django, no database connection.
"""

from __future__ import annotations

from verifiers.engines.mysql import quote
from verifiers.reconcile.balances import KeyRange, LedgerMapping


def build_key_bounds_query(mapping: LedgerMapping) -> str:
    key = quote(mapping.account_key)
    return f"SELECT MIN({key}), MAX({key}) FROM {quote(mapping.accounts_table)}"


def build_key_split_query(mapping: LedgerMapping, parts: int) -> str:
    """Inner split points by count for any orderable key: the keys at rank n*i/parts."""
    key = quote(mapping.account_key)
    return (
        f"SELECT k FROM (SELECT {key} AS k, ROW_NUMBER() OVER (ORDER BY {key}) AS rn, "
        f"COUNT(*) OVER () AS n FROM {quote(mapping.accounts_table)}) AS ranked "
        f"WHERE rn > 1 AND MOD(rn - 1, GREATEST(1, FLOOR(n / {int(parts)}))) = 0 ORDER BY k"
    )


# Open InnoDB transactions that began before the cut-off, and this session's own (see
# engine_mysql: it proves the table is fresh). trx_started is in the server's system zone (the
# wait connection keeps time_zone SYSTEM for the comparison), truncated to the second: a
# transaction begun in the cut-off's second may be waited for needlessly, never missed.
WAIT_QUERY = """
    SELECT trx_mysql_thread_id, TIMESTAMPDIFF(MICROSECOND, trx_started, NOW(6)) / 1e6,
           trx_state, LEFT(COALESCE(trx_query, ''), 200),
           trx_mysql_thread_id = CONNECTION_ID() AS own
    FROM information_schema.innodb_trx
    WHERE trx_started < %(cutoff)s OR trx_mysql_thread_id = CONNECTION_ID()
    ORDER BY trx_started
"""


def _range_predicate(column: str, key_range: KeyRange) -> str:
    conditions = []
    if key_range.lower is not None:
        conditions.append(f"{column} >= %(lower)s")
    if key_range.upper is not None:
        conditions.append(f"{column} < %(upper)s")
    return " AND ".join(conditions) if conditions else "TRUE"


def _per_account_select(mapping: LedgerMapping, key_range: KeyRange) -> str:
    key = f"a.{quote(mapping.account_key)}"
    balance = f"a.{quote(mapping.balance_column)}"
    opening = (
        f"COALESCE(a.{quote(mapping.opening_balance_column)}, 0)"
        if mapping.opening_balance_column else "0"
    )
    version = f"a.{quote(mapping.version_column)}" if mapping.version_column else "NULL"
    currency = f"a.{quote(mapping.currency_column)}" if mapping.currency_column else "%(currency_code)s"
    entry_account = quote(mapping.entry_account_column)
    amount = quote(mapping.entry_amount_column)
    entry_time = quote(mapping.entry_time_column)
    return (
        f"SELECT {key} AS account_key, {currency} AS currency, {balance} AS balance_now, "
        f"{balance} - COALESCE(e.sum_after, 0) AS balance_at_cutoff, "
        f"{opening} + COALESCE(e.sum_before, 0) AS journal, {version} AS version "
        f"FROM {quote(mapping.accounts_table)} AS a LEFT JOIN ("
        f"SELECT {entry_account} AS account_key, "
        f"SUM(CASE WHEN {entry_time} < %(cutoff)s THEN {amount} END) AS sum_before, "
        f"SUM(CASE WHEN {entry_time} >= %(cutoff)s THEN {amount} END) AS sum_after "
        f"FROM {quote(mapping.entries_table)} WHERE {_range_predicate(entry_account, key_range)} "
        f"GROUP BY {entry_account}) AS e ON e.account_key = {key} "
        f"WHERE {_range_predicate(key, key_range)}"
    )


def build_range_query(mapping: LedgerMapping, key_range: KeyRange) -> str:
    """Per-currency groups of one range in one pass: all accounts that agree with their journal
    in one group per currency, each account that differs in a group of its own (key in
    ``diff_key``). Rows: currency, diff_key, accounts, balance_at_cutoff sum, journal sum,
    balance_now, version. ``engine_mysql`` adds them up into totals and differences.

    Why not ``ledger_sql``'s shape: MariaDB merges a CTE into each of its references instead of
    materialising it, so totals plus differences read the entries twice (3x slower measured).
    """
    return (
        "SELECT currency, diff_key, COUNT(*), SUM(balance_at_cutoff), SUM(journal), "
        "MAX(balance_now), MAX(version) FROM ("
        "SELECT p.*, CASE WHEN NOT (balance_at_cutoff <=> journal) THEN account_key END AS diff_key "
        f"FROM ({_per_account_select(mapping, key_range)}) AS p) AS per_account "
        "GROUP BY currency, diff_key"
    )


def build_cutoff_balances_query(mapping: LedgerMapping, key_range: KeyRange) -> str:
    return (
        f"SELECT * FROM ({_per_account_select(mapping, key_range)}) AS per_account "
        "ORDER BY account_key"
    )
