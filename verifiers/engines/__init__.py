"""The engine seam: what the console needs from a database it only reads.

A verified database (write checks) or a ledger source (reconciliation) is PostgreSQL, MySQL 8
or MariaDB 10.11+, told apart by the DSN's scheme (``postgresql://``, ``mysql://``). Each engine
module offers the same narrow set of functions, and nothing else in the console talks to a
driver about these databases' connection, metadata or snapshots:

* ``connect(dsn, *, statement_timeout_s, connect_timeout_s, application_name)``: an autocommit
  connection whose session is read-only and carries a statement time limit;
* ``columns(conn, tables)``: ``{table as named: {column: data_type}}`` from information_schema,
  types spelt as PostgreSQL's information_schema spells them (so one set of type rules serves
  every engine), and ``primary_key(conn, table)``; the MySQL module also lists a database's
  ``base_tables(conn)`` with their keys for the write checker (on PostgreSQL,
  ``verifiers.write.introspect`` reads pg_catalog itself);
* ``begin_snapshot(conn)`` / ``end_transaction(conn)``: a read-only consistent snapshot;
* ``is_read_only(conn)``: the session refuses writes;
* ``quote(name)`` and ``DIALECT`` (the sqlglot dialect name of captures).

Both drivers take ``%(name)s`` parameters, so statements built as text with ``quote`` run on
either one.

Oracle (not here: no server to test against). An ``engines/oracle.py`` with python-oracledb
would be one module: ``connect`` sets ``SET TRANSACTION READ ONLY`` per transaction and a
call timeout; ``columns`` reads ALL_TAB_COLUMNS (NUMBER -> numeric, VARCHAR2 -> character
varying, DATE/TIMESTAMP -> timestamp without time zone); the snapshot is flashback: the
coordinator reads ``DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER`` after the wait (V$TRANSACTION
START_DATE before the cut-off) and every part queries ``... AS OF SCN :scn``, so parts share
one exact moment as PostgreSQL's exported snapshot does (bounded by UNDO_RETENTION).
"""

from __future__ import annotations

from types import ModuleType

from verifiers.engines.dsn import MYSQL, POSTGRESQL, SCHEMES, EngineError, dialect_of

__all__ = ["MYSQL", "POSTGRESQL", "SCHEMES", "EngineError", "dialect_of", "engine_for"]


def engine_for(dsn: str) -> ModuleType:
    """The engine module (verifiers.engines.postgresql or .mysql) for a DSN."""
    if dialect_of(dsn) == MYSQL:
        from verifiers.engines import mysql

        return mysql
    from verifiers.engines import postgresql

    return postgresql
