"""Real-world write transactions, each with a correct and a wrong candidate capture.

Shapes as ORMs and hand-written code emit them: Django, SQLAlchemy, Hibernate/JPA, MyBatis,
pgbench's TPC-B transaction, upserts, multi-row inserts, RETURNING, CTEs, composite keys, quoted
and schema-qualified names, NULLs, numerics, time zones, JSON and bytes, MySQL and Oracle
dialect text. The legacy runs ``legacy`` (PostgreSQL text) for real; the candidate's capture
is ``capture`` (default: the same statements) with its dialect, params and after-images.
``wrong`` changes one thing in the capture: the verifier must call it a mismatch. A case with
``unverifiable`` set is one the checker does not support: every verdict must be unverifiable
and name that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

Statement = tuple[str, Any]
KST = timezone(timedelta(hours=9))

SCHEMA_SQL = """
CREATE SCHEMA core;
CREATE TABLE shop_order (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, total numeric(12, 2) NOT NULL,
    status varchar(20) NOT NULL, note text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE shop_orderline (id bigserial PRIMARY KEY, order_id bigint NOT NULL, sku varchar(40) NOT NULL,
    qty integer NOT NULL, price numeric(12, 2) NOT NULL);
CREATE TABLE users (id integer PRIMARY KEY, name varchar(50), email varchar(120), active boolean, profile jsonb,
    balance numeric(18, 4));
CREATE TABLE customer (id bigint PRIMARY KEY, version integer NOT NULL, first_name varchar(255),
    last_name varchar(255), birth_date date, credit_limit numeric(19, 2));
CREATE TABLE t_account_log (log_id bigint PRIMARY KEY, account_no varchar(32), amount numeric(20, 4),
    log_type char(1), logged_at timestamptz);
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
CREATE TABLE inventory (warehouse_id int, sku text, qty int NOT NULL, PRIMARY KEY (warehouse_id, sku));
CREATE TABLE core."Ledger Entry" ("Entry Id" bigint PRIMARY KEY, "Amount" numeric(20, 4), "Memo" text);
CREATE TABLE core.fx_rate (base char(3), quote char(3), day date, rate numeric(18, 8),
    PRIMARY KEY (base, quote, day));
CREATE TABLE events (id uuid PRIMARY KEY, happened_at timestamptz, payload json, tags jsonb, raw bytea);
CREATE TABLE big_numbers (id bigint PRIMARY KEY, n numeric(40, 0), f double precision, i8 bigint);
CREATE TABLE wallet (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(20, 4) NOT NULL,
    updated_at timestamptz NOT NULL);
INSERT INTO pgbench_branches VALUES (1, 0, ''), (2, 0, '');
INSERT INTO pgbench_tellers SELECT t, 1 + (t - 1) / 10, 0, '' FROM generate_series(1, 20) AS t;
INSERT INTO pgbench_accounts SELECT a, 1 + (a - 1) / 100, 0, '' FROM generate_series(1, 200) AS a;
INSERT INTO users SELECT u, 'user ' || u, 'u' || u || '@example.com', true, '{"lang": "ko"}', 100
    FROM generate_series(1, 100) AS u;
INSERT INTO customer SELECT c, 1, 'First' || c, 'Last' || c, DATE '1980-01-01' + c, 1000
    FROM generate_series(1, 100) AS c;
INSERT INTO inventory SELECT w, 'SKU-' || s, 10 FROM generate_series(1, 3) AS w, generate_series(1, 30) AS s;
INSERT INTO wallet SELECT w, 'owner ' || w, 50, now() FROM generate_series(1, 50) AS w;
SELECT setval('shop_order_id_seq', 1000);
"""

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Case:
    name: str
    legacy: list[Statement]
    # One change, or a tuple of them: ("param", statement, index|name, value), ("sql", statement, old, new),
    # ("image", after-image index, column, value).
    wrong: tuple[Any, ...] = ()
    capture: list[Statement] | None = None
    dialect: str = "postgres"
    after_images: list[dict[str, Any]] = field(default_factory=list)
    unverifiable: str = ""  # a reason part: the checker does not support this shape


def _wire(sql: str) -> str:
    """JDBC text as PgJDBC sends it to PostgreSQL: each ``?`` numbered ``$1``, ``$2`` ..."""
    numbers = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)


# Django's ORM sends the same statements to PostgreSQL and to MySQL but for the quotes around
# names (and RETURNING on PostgreSQL): both corpora take them from here, mysql_cases backquoted.
def django_create_order(t0: datetime, returning: str = "") -> Statement:
    """create() of an order of customer 7 for 120.50, given id 1001 by the database."""
    return ('INSERT INTO "shop_order" ("customer_id", "total", "status", "note", "created_at", "updated_at") '
            "VALUES (%s, %s, %s, %s, %s, %s)" + returning, [7, Decimal("120.50"), "new", None, t0, t0])


# The capture of django_create_order() that writes 120.51.
DJANGO_CREATE_ORDER_WRONG = (("param", 0, 1, Decimal("120.51")), ("image", 0, "total", "120.51"))


def django_created_order_image(t0: datetime) -> list[dict[str, Any]]:
    return [{"table": "shop_order", "key": {"id": 1001},
             "row": {"id": 1001, "customer_id": 7, "total": "120.50", "status": "new", "note": None,
                     "created_at": t0, "updated_at": t0}}]


def django_save_every_column(t0: datetime) -> list[Statement]:
    """Order 5001 inserted, then save() without update_fields: every column is written again."""
    return [('INSERT INTO "shop_order" ("id", "customer_id", "total", "status", "note", "created_at", "updated_at") '
             "VALUES (%s, %s, %s, %s, %s, %s, %s)", [5001, 8, Decimal("10.00"), "new", "", t0, t0]),
            ('UPDATE "shop_order" SET "customer_id" = %s, "total" = %s, "status" = %s, "note" = %s, '
             '"created_at" = %s, "updated_at" = %s WHERE "shop_order"."id" = %s',
             [8, Decimal("12.00"), "paid", "gift", t0, t0 + timedelta(minutes=1), 5001])]


def django_f_expression_update() -> Statement:
    """update(balance=F("balance") + Decimal("2.5")) of user 3: the new value is computed in SQL."""
    return ('UPDATE "users" SET "balance" = ("users"."balance" + %s) WHERE "users"."id" = %s', [Decimal("2.5"), 3])


def django_f_expression_image() -> list[dict[str, Any]]:
    """The candidate's after-image of django_f_expression_update(): user 3's balance 100 + 2.5."""
    return [{"table": "users", "key": {"id": 3}, "row": {"balance": "102.5000"}}]


def django_bulk_create_lines(order_id: int) -> Statement:
    """bulk_create() of lines 9001-9003 of an order: one multi-row INSERT."""
    return ('INSERT INTO "shop_orderline" ("id", "order_id", "sku", "qty", "price") VALUES '
            "(%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s)",
            [9001, order_id, "A-1", 1, Decimal("1.10"), 9002, order_id, "B-2", 2, Decimal("2.20"),
             9003, order_id, "C-3", 3, Decimal("3.30")])


def inventory_upsert(warehouse_id: int, sku: str, qty: int) -> Statement:
    """An upsert of one inventory row replacing its qty, as PostgreSQL writes it."""
    return ("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
            "ON CONFLICT (warehouse_id, sku) DO UPDATE SET qty = EXCLUDED.qty", [warehouse_id, sku, qty])


def mysql_inventory_upsert(warehouse_id: int, sku: str, qty: int) -> Statement:
    """The same upsert as MySQL writes it: ON DUPLICATE KEY UPDATE with VALUES()."""
    return ("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE qty = VALUES(qty)", [warehouse_id, sku, qty])


def backquoted(statements: list[Statement]) -> list[Statement]:
    """Django's text for MySQL: names in back quotes instead of double quotes."""
    return [(sql.replace('"', "`"), params) for sql, params in statements]


def _tpcb(aid: int, tid: int, bid: int, delta: int, balances: tuple[int, int, int]) -> Case:
    statements = [
        ("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s", [delta, aid]),
        ("SELECT abalance FROM pgbench_accounts WHERE aid = %s", [aid]),
        ("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s", [delta, tid]),
        ("UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s", [delta, bid]),
        ("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)",
         [tid, bid, aid, delta]),
    ]
    images = [
        {"table": "pgbench_accounts", "key": {"aid": aid}, "row": {"abalance": balances[0]}},
        {"table": "pgbench_tellers", "key": {"tid": tid}, "row": {"tbalance": balances[1]}},
        {"table": "pgbench_branches", "key": {"bid": bid}, "row": {"bbalance": balances[2]}},
    ]
    return Case(f"pgbench tpc-b aid {aid}", statements, ("image", 0, "abalance", balances[0] + 1),
                after_images=images)


CASES: list[Case] = [
    # --- Django (psycopg, %s, quoted identifiers, RETURNING of a serial key) ---------------------
    Case("django create with RETURNING serial id", [django_create_order(T0, ' RETURNING "shop_order"."id"')],
         DJANGO_CREATE_ORDER_WRONG, after_images=django_created_order_image(T0)),
    Case("django save() updates every column", django_save_every_column(T0), ("param", 1, 2, "shipped")),
    Case("django update_fields",
         [('INSERT INTO "shop_order" ("id", "customer_id", "total", "status", "created_at", "updated_at") '
           "VALUES (%s, %s, %s, %s, %s, %s)", [5002, 9, Decimal("5.00"), "new", T0, T0]),
          ('UPDATE "shop_order" SET "status" = %s WHERE "shop_order"."id" = %s', ["cancelled", 5002])],
         ("param", 1, 0, "new")),
    Case("django bulk_create multi-row", [django_bulk_create_lines(5002)], ("param", 0, 13, 4)),
    Case("django delete() of a queryset by pk list",
         [('INSERT INTO "shop_orderline" ("id", "order_id", "sku", "qty", "price") VALUES '
           "(9010, 1, 'X', 1, 1), (9011, 1, 'Y', 1, 1)", None),
          ('DELETE FROM "shop_orderline" WHERE "shop_orderline"."id" IN (%s, %s)', [9010, 9011])],
         ("param", 1, 1, 9012)),
    Case("django F() expression with after-image", [django_f_expression_update()],
         ("image", 0, "balance", "102.4"), after_images=django_f_expression_image()),
    Case("django JSONField as text",
         [('UPDATE "users" SET "profile" = %s WHERE "users"."id" = %s', ['{"lang": "en", "tz": "Asia/Seoul"}', 4])],
         ("param", 0, 0, '{"lang": "en", "tz": "UTC"}')),
    Case("django get_or_create inside one transaction (insert then update)",
         [('INSERT INTO "shop_order" ("id", "customer_id", "total", "status", "created_at", "updated_at") '
           "VALUES (%s, %s, %s, %s, %s, %s)", [5003, 10, Decimal("0"), "new", T0, T0]),
          ('UPDATE "shop_order" SET "total" = %s, "updated_at" = %s WHERE "shop_order"."id" = %s',
           [Decimal("99.99"), T0 + timedelta(seconds=5), 5003])],
         ("param", 1, 0, Decimal("99.98"))),
    # --- SQLAlchemy (pyformat named params, executemany shapes) ---------------------------------
    Case("sqlalchemy insert with named params",
         [("INSERT INTO users (id, name, email, active, profile, balance) VALUES "
           "(%(id)s, %(name)s, %(email)s, %(active)s, %(profile)s, %(balance)s)",
           {"id": 501, "name": "김민수", "email": "minsu@example.kr", "active": True, "profile": '{"vip": true}',
            "balance": Decimal("0.0001")})],
         ("param", 0, "name", "김민석")),
    Case("sqlalchemy update by primary key",
         [("UPDATE users SET email=%(email)s, active=%(active)s WHERE users.id = %(id_1)s",
           {"email": "new@example.com", "active": False, "id_1": 5})],
         ("param", 0, "active", True)),
    Case("sqlalchemy delete by primary key",
         [("DELETE FROM users WHERE users.id = %(id_1)s", {"id_1": 6})],
         ("param", 0, "id_1", 7)),
    Case("sqlalchemy NULL assignment",
         [("UPDATE users SET name=%(name)s, profile=%(profile)s WHERE users.id = %(id_1)s",
           {"name": None, "profile": None, "id_1": 8})],
         ("param", 0, "name", "")),
    Case("sqlalchemy ORM unit of work: insert, update, delete",
         [("INSERT INTO users (id, name, balance) VALUES (%(id)s, %(name)s, %(balance)s)",
           {"id": 502, "name": "temp", "balance": Decimal("1")}),
          ("UPDATE users SET balance=%(balance)s WHERE users.id = %(id_1)s", {"balance": Decimal("2"), "id_1": 502}),
          ("UPDATE users SET balance=%(balance)s WHERE users.id = %(id_1)s", {"balance": Decimal("3"), "id_1": 9}),
          ("DELETE FROM users WHERE users.id = %(id_1)s", {"id_1": 502})],
         ("param", 2, "balance", Decimal("3.01"))),
    # --- Hibernate / JPA (JDBC text as PgJDBC sends it, optimistic version) -----------------------------
    Case("hibernate versioned update",
         [("update customer set version=%s, first_name=%s, last_name=%s, birth_date=%s, credit_limit=%s "
           "where id=%s and version=%s", [2, "Ada", "Lovelace", date(1815, 12, 10), Decimal("5000.00"), 11, 1])],
         ("param", 0, 4, Decimal("5000.01")),
         capture=[(_wire("update customer set version=?, first_name=?, last_name=?, birth_date=?, credit_limit=? "
                   "where id=? and version=?"), [2, "Ada", "Lovelace", date(1815, 12, 10), Decimal("5000.00"), 11, 1])]),
    Case("hibernate insert with assigned id",
         [("insert into customer (version, first_name, last_name, birth_date, credit_limit, id) "
           "values (%s, %s, %s, %s, %s, %s)", [0, "Grace", "Hopper", date(1906, 12, 9), None, 901])],
         ("param", 0, 3, date(1906, 12, 8)),
         capture=[(_wire("insert into customer (version, first_name, last_name, birth_date, credit_limit, id) "
                   "values (?, ?, ?, ?, ?, ?)"), [0, "Grace", "Hopper", date(1906, 12, 9), None, 901])]),
    Case("hibernate delete",
         [("delete from customer where id=%s and version=%s", [12, 1])],
         ("param", 0, 0, 13),
         capture=[(_wire("delete from customer where id=? and version=?"), [12, 1])]),
    Case("hibernate batch of versioned updates",
         [("update customer set version=%s, credit_limit=%s where id=%s and version=%s", [2, Decimal("1"), 13, 1]),
          ("update customer set version=%s, credit_limit=%s where id=%s and version=%s", [2, Decimal("2"), 14, 1])],
         ("param", 1, 1, Decimal("3")),
         capture=[(_wire("update customer set version=?, credit_limit=? where id=? and version=?"), [2, Decimal("1"), 13, 1]),
                  (_wire("update customer set version=?, credit_limit=? where id=? and version=?"), [2, Decimal("2"), 14, 1])]),
    # --- MyBatis (hand-written mapper SQL, upper case, #{} bound as PgJDBC sends it) -----------------------
    Case("mybatis insert log row",
         [("INSERT INTO T_ACCOUNT_LOG (LOG_ID, ACCOUNT_NO, AMOUNT, LOG_TYPE, LOGGED_AT) VALUES (%s, %s, %s, %s, %s)",
           [70001, "110-234-567890", Decimal("-15000.0000"), "W", datetime(2026, 12, 2, 19, 0, tzinfo=KST)])],
         ("param", 0, 2, Decimal("-15000.0001")),
         capture=[(_wire("INSERT INTO T_ACCOUNT_LOG (LOG_ID, ACCOUNT_NO, AMOUNT, LOG_TYPE, LOGGED_AT) VALUES (?, ?, ?, ?, ?)"),
                   [70001, "110-234-567890", Decimal("-15000.0000"), "W", datetime(2026, 12, 2, 19, 0, tzinfo=KST)])]),
    Case("mybatis update with literal",
         [("UPDATE WALLET SET BALANCE = 10.50, UPDATED_AT = %s WHERE ID = %s", [T0, 1])],
         ("sql", 0, "10.50", "10.05"),
         capture=[(_wire("UPDATE WALLET SET BALANCE = 10.50, UPDATED_AT = ? WHERE ID = ?"), [T0, 1])]),
    # --- pgbench TPC-B ----------------------------------------------------------------------------
    _tpcb(17, 2, 1, 250, (250, 250, 250)),
    _tpcb(150, 15, 2, -75, (-75, -75, -75)),
    # --- upserts ------------------------------------------------------------------------------------
    Case("upsert ON CONFLICT DO UPDATE from excluded",
         [inventory_upsert(1, "SKU-1", 42)],
         ("param", 0, 2, 43)),
    Case("upsert of a new composite key",
         [inventory_upsert(9, "NEW-1", 1)],
         ("param", 0, 2, 2)),
    Case("upsert adding to a counter (after-image)",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
           "ON CONFLICT (warehouse_id, sku) DO UPDATE SET qty = inventory.qty + EXCLUDED.qty", [2, "SKU-2", 5])],
         ("image", 0, "qty", 16),
         after_images=[{"table": "inventory", "key": {"warehouse_id": 2, "sku": "SKU-2"}, "row": {"qty": 15}}]),
    Case("upsert DO NOTHING with after-image",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (3, 'SKU-3', 99) ON CONFLICT DO NOTHING", None)],
         ("image", 0, "qty", 99),
         after_images=[{"table": "inventory", "key": {"warehouse_id": 3, "sku": "SKU-3"}, "row": {"qty": 10}}]),
    Case("mysql ON DUPLICATE KEY UPDATE",
         [inventory_upsert(1, "SKU-4", 7)],
         ("param", 0, 2, 8), dialect="mysql", capture=[mysql_inventory_upsert(1, "SKU-4", 7)]),
    # --- composite keys, quoted and schema-qualified names ---------------------------------------
    Case("composite key update",
         [("UPDATE inventory SET qty = %s WHERE warehouse_id = %s AND sku = %s", [0, 2, "SKU-7"])],
         ("param", 0, 0, 1)),
    Case("composite key delete",
         [("DELETE FROM inventory WHERE sku = %s AND warehouse_id = %s", ["SKU-8", 3])],
         ("param", 0, 0, "SKU-9")),
    Case("quoted schema-qualified table with spaces",
         [('INSERT INTO core."Ledger Entry" ("Entry Id", "Amount", "Memo") VALUES (%s, %s, %s)',
           [1, Decimal("1234.5678"), "first \"quoted\" memo"])],
         ("param", 0, 1, Decimal("1234.5679"))),
    Case("quoted schema-qualified update",
         [('INSERT INTO core."Ledger Entry" ("Entry Id", "Amount", "Memo") VALUES (2, 1, \'x\')', None),
          ('UPDATE core."Ledger Entry" SET "Memo" = %s WHERE "Entry Id" = %s', ["it's ☃", 2])],
         ("param", 1, 0, "it's ❄")),
    Case("three-column key with a date",
         [("INSERT INTO core.fx_rate (base, quote, day, rate) VALUES (%s, %s, %s, %s)",
           ["USD", "KRW", date(2026, 12, 1), Decimal("1391.25000000")])],
         ("param", 0, 3, Decimal("1391.26"))),
    # --- numerics, big numbers, time zones, JSON, bytes -------------------------------------------
    Case("numeric(40,0) beyond 64 bits as a literal",
         [("INSERT INTO big_numbers (id, n, f, i8) VALUES (1, 123456789012345678901234567890, 0.1, "
           "9223372036854775807)", None)],
         ("sql", 0, "123456789012345678901234567890", "123456789012345678901234567891")),
    Case("numeric beyond 64 bits as a tagged param",
         [("INSERT INTO big_numbers (id, n) VALUES (%s, %s)", [2, 2**100])],
         ("param", 0, 1, 2**100 + 1)),
    Case("double precision and negative decimal",
         [("UPDATE big_numbers SET f = %s, n = %s WHERE id = %s", [1.5e-10, Decimal("-42"), 1])],
         ("param", 0, 0, 1.6e-10)),
    Case("timestamptz written in another zone",
         [("INSERT INTO events (id, happened_at) VALUES (%s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000001", datetime(2026, 12, 2, 23, 30, tzinfo=KST)])],
         ("param", 0, 1, datetime(2026, 12, 2, 23, 31, tzinfo=KST))),
    Case("timestamptz as text with offset",
         [("INSERT INTO events (id, happened_at) VALUES (%s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000002", "2026-12-02 08:00:00+09:00"])],
         ("param", 0, 1, "2026-12-02 08:00:00+08:00")),
    Case("json and jsonb columns from text",
         [("INSERT INTO events (id, payload, tags) VALUES (%s, %s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000003", '{"amount": 10, "items": [1, 2]}', '["a", "b"]'])],
         ("param", 0, 2, '["a", "c"]')),
    Case("bytea from bytes",
         [("INSERT INTO events (id, raw) VALUES (%s, %s)", ["6f1b6c1e-0000-4000-8000-000000000004", b"\x00\x01\xfe"])],
         ("param", 0, 1, b"\x00\x01\xff")),
    Case("NULLs in insert and update",
         [("INSERT INTO users (id, name, email, active) VALUES (%s, NULL, %s, NULL)", [503, None]),
          ("UPDATE users SET email = %s WHERE id = %s", ["late@example.com", 503])],
         ("param", 1, 0, None)),
    Case("unicode beyond the BMP",
         [("UPDATE users SET name = %s WHERE id = %s", ["emoji \U0001f600 한글 ﷺ", 20])],
         ("param", 0, 0, "emoji \U0001f601 한글 ﷺ")),
    Case("IN list update",
         [("UPDATE users SET active = false WHERE id IN (%s, %s, %s)", [21, 22, 23])],
         ("sql", 0, "active = false", "active = true")),
    Case("stacked transaction: insert then delete leaves no row",
         [("INSERT INTO wallet (id, owner, balance, updated_at) VALUES (%s, %s, %s, %s)", [901, "tmp", 1, T0]),
          ("DELETE FROM wallet WHERE id = %s", [901])],
         ("param", 1, 0, 2)),
    Case("transfer between wallets with version-less tables",
         [("UPDATE wallet SET balance = %s, updated_at = %s WHERE id = %s", [Decimal("40.0000"), T0, 2]),
          ("UPDATE wallet SET balance = %s, updated_at = %s WHERE id = %s", [Decimal("60.0000"), T0, 3])],
         ("param", 1, 0, Decimal("60.0001"))),
    # --- Oracle dialect text ----------------------------------------------------------------------
    Case("oracle positional binds",
         [("UPDATE customer SET credit_limit = %s WHERE id = %s", [Decimal("7.50"), 30])],
         ("param", 0, 0, Decimal("7.05")), dialect="oracle",
         capture=[("UPDATE customer SET credit_limit = :1 WHERE id = :2", [Decimal("7.50"), 30])]),
    Case("oracle named binds",
         [("INSERT INTO customer (id, version, first_name) VALUES (%s, %s, %s)", [902, 0, "Oracle"])],
         ("param", 0, "first_name", "Oracel"), dialect="oracle",
         capture=[("INSERT INTO customer (id, version, first_name) VALUES (:id, :version, :first_name)",
                   {"id": 902, "version": 0, "first_name": "Oracle"})]),
    Case("mysql backquoted names",
         [("UPDATE users SET email = %s WHERE id = %s", ["b@example.com", 31])],
         ("param", 0, 0, "c@example.com"), dialect="mysql",
         capture=[("UPDATE `users` SET `email` = %s WHERE `id` = %s", ["b@example.com", 31])]),
    Case("asyncpg dollar placeholders",
         [("UPDATE users SET balance = %s WHERE id = %s", [Decimal("0.5"), 32])],
         ("param", 0, 0, Decimal("0.6")),
         capture=[("UPDATE users SET balance = $1 WHERE id = $2", [Decimal("0.5"), 32])]),
    # --- shapes the checker does not verify: unverifiable, with a reason -------------------------
    Case("CTE write", [("WITH moved AS (UPDATE users SET balance = 0 WHERE id = 40 RETURNING id) "
                        "INSERT INTO t_account_log (log_id, account_no) SELECT id, 'cte' FROM moved", None)],
         ("sql", 0, "balance = 0", "balance = 1"), unverifiable="not verified"),
    Case("UPDATE ... FROM join", [("UPDATE users SET balance = w.balance FROM wallet w WHERE w.id = users.id "
                                   "AND users.id = 41", None)],
         ("sql", 0, "users.id = 41", "users.id = 42"), unverifiable="FROM"),
    Case("JDBC ? placeholders in PostgreSQL text (capture it as sent: $1, $2 ...)",
         [("UPDATE users SET name = %s WHERE id = %s", ["jdbc", 43])], ("param", 0, 0, "odbc"),
         capture=[("UPDATE users SET name = ? WHERE id = ?", ["jdbc", 43])], unverifiable="placeholder ? is not valid"),
    Case("table without a key", [("INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (1, 1, 1, 5)", None)],
         ("sql", 0, "5)", "6)"), unverifiable="key"),
]
