"""Write transactions as real applications emit them on MySQL/MariaDB, each with a correct and a
wrong candidate capture (``mysql`` dialect): Django's and Hibernate's/MyBatis' text on MySQL,
INSERT ... ON DUPLICATE KEY UPDATE, REPLACE, INSERT IGNORE, multi-row INSERT, back-quoted
names, DATETIME/TIMESTAMP, DECIMAL, TINYINT(1) booleans, JSON, VARBINARY/BLOB, BIGINT UNSIGNED,
utf8mb4 text and keys under a case-insensitive collation.

The legacy runs ``legacy`` (PyMySQL text, ``%s``) for real on MySQL/MariaDB; the capture is
``capture`` (default: the same statements). See ``cases.Case`` for ``wrong``/``unverifiable``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from verifiers.tests.write_corpus.cases import (
    DJANGO_CREATE_ORDER_WRONG,
    Case,
    backquoted,
    django_bulk_create_lines,
    django_create_order,
    django_created_order_image,
    django_save_every_column,
)

KST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 2, 10, 0)  # DATETIME: a wall time, naive as the drivers send it
# A Seoul application's NOW(): a wall time 9 hours ahead of the UTC commit instant.
SEOUL_NOW = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(hours=9)

SCHEMA_STATEMENTS = (
    # Django's DDL on MySQL: bigint AUTO_INCREMENT, datetime(6), longtext, decimal.
    """CREATE TABLE shop_order (id bigint AUTO_INCREMENT PRIMARY KEY, customer_id bigint NOT NULL,
        total decimal(12, 2) NOT NULL, status varchar(20) NOT NULL, note longtext NULL,
        created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL) AUTO_INCREMENT = 1001""",
    """CREATE TABLE shop_orderline (id bigint AUTO_INCREMENT PRIMARY KEY, order_id bigint NOT NULL,
        sku varchar(40) NOT NULL, qty int NOT NULL, price decimal(12, 2) NOT NULL)""",
    """CREATE TABLE users (id int PRIMARY KEY, name varchar(50), email varchar(120), active tinyint(1),
        profile json, balance decimal(18, 4))""",
    """CREATE TABLE customer (id bigint PRIMARY KEY, version int NOT NULL, first_name varchar(255),
        last_name varchar(255), birth_date date, credit_limit decimal(19, 2), vip bit(1))""",
    """CREATE TABLE t_account_log (log_id bigint PRIMARY KEY, account_no varchar(32), amount decimal(20, 4),
        log_type char(1), logged_at datetime, logged_time time)""",
    """CREATE TABLE inventory (warehouse_id int, sku varchar(40), qty int NOT NULL,
        PRIMARY KEY (warehouse_id, sku))""",
    "CREATE TABLE page_hits (path varchar(100) PRIMARY KEY, hits bigint unsigned NOT NULL)",
    """CREATE TABLE `Order Items` (`Item Id` bigint PRIMARY KEY, `Amount` decimal(20, 4), `Memo` text)
        DEFAULT CHARSET = utf8mb4""",
    """CREATE TABLE events (id char(36) PRIMARY KEY, happened_at timestamp(6) NULL, payload json,
        raw varbinary(16), body blob)""",
    "CREATE TABLE big_numbers (id bigint unsigned PRIMARY KEY, n decimal(40, 0), f double, u bigint unsigned)",
    """CREATE TABLE fx_deposit (account_no varchar(20) PRIMARY KEY, currency char(3) NOT NULL,
        balance decimal(20, 4) NOT NULL, opened_on date) DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci""",
    "CREATE TABLE audit_trail (happened_at datetime, who varchar(40), what varchar(200))",
    """INSERT INTO users (id, name, email, active, profile, balance)
        SELECT seq, CONCAT('user ', seq), CONCAT('u', seq, '@example.com'), 1, '{"lang": "ko"}', 100
        FROM (SELECT 1 AS seq UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
              UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10
              UNION ALL SELECT 11 UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14) AS numbers""",
    """INSERT INTO customer (id, version, first_name, last_name, birth_date, credit_limit) VALUES
        (1, 1, 'First1', 'Last1', '1980-01-02', 1000), (2, 3, 'First2', 'Last2', '1981-02-03', 2000),
        (3, 1, 'First3', 'Last3', '1982-03-04', 3000)""",
    "INSERT INTO inventory (warehouse_id, sku, qty) VALUES (1, 'SKU-1', 10), (1, 'SKU-2', 10), (2, 'SKU-3', 10)",
    "INSERT INTO page_hits (path, hits) VALUES ('/home', 41)",
    "INSERT INTO fx_deposit (account_no, currency, balance, opened_on) VALUES ('FX-0001', 'USD', 100, '2026-01-05')",
)

CASES: list[Case] = [
    # --- Django on MySQL (mysqlclient/PyMySQL: %s, back-quoted names, lastrowid) -----------------
    Case("django create with an AUTO_INCREMENT id", backquoted([django_create_order(T0)]), DJANGO_CREATE_ORDER_WRONG,
         dialect="mysql", after_images=django_created_order_image(T0)),
    Case("django save() updates every column", backquoted(django_save_every_column(T0)),
         ("param", 1, 5, T0 + timedelta(minutes=2)), dialect="mysql"),
    Case("DATETIME updated_at in Seoul wall time is not taken for a version column",
         [("UPDATE `shop_order` SET `status` = %s, `updated_at` = %s WHERE `shop_order`.`id` = %s",
           ["shipped", SEOUL_NOW, 5001])],
         ("param", 0, 0, "lost"), dialect="mysql"),
    Case("django bulk_create multi-row", backquoted([django_bulk_create_lines(5001)]),
         ("param", 0, 14, Decimal("3.31")), dialect="mysql"),
    Case("django delete() of a queryset by pk list",
         [("DELETE FROM `shop_orderline` WHERE `shop_orderline`.`id` IN (%s, %s)", [9001, 9002])],
         ("param", 0, 1, 9003), dialect="mysql"),
    Case("django BooleanField is TINYINT(1)",
         [("UPDATE `users` SET `active` = %s WHERE `users`.`id` = %s", [False, 1])],
         ("param", 0, 0, True), dialect="mysql"),
    Case("django JSONField written with other spacing and key order",
         [("UPDATE `users` SET `profile` = %s WHERE `users`.`id` = %s", ['{"lang": "en", "tags": [1, 2]}', 2])],
         ("param", 0, 0, '{"tags":[1,2],"lang":"fr"}'), dialect="mysql",
         capture=[("UPDATE `users` SET `profile` = %s WHERE `users`.`id` = %s", ['{"tags":[1,2],"lang":"en"}', 2])]),
    Case("django F() expression with the after-image",
         [("UPDATE `users` SET `balance` = (`users`.`balance` + %s) WHERE `users`.`id` = %s", [Decimal("2.5"), 3])],
         ("image", 0, "balance", "102.5001"), dialect="mysql",
         after_images=[{"table": "users", "key": {"id": 3}, "row": {"balance": "102.5000"}}]),
    # --- Hibernate/JPA and MyBatis on MySQL Connector/J (? placeholders, inlined literals) ------
    Case("hibernate versioned update",
         [("UPDATE customer SET credit_limit = %s, first_name = %s, version = %s WHERE id = %s AND version = %s",
           [Decimal("1500.00"), "Ann", 2, 1, 1])],
         ("param", 0, 1, "Anna"), dialect="mysql",
         capture=[("update customer set credit_limit=?, first_name=?, version=? where id=? and version=?",
                   [Decimal("1500.00"), "Ann", 2, 1, 1])]),
    Case("hibernate insert with an assigned id",
         [("INSERT INTO customer (birth_date, credit_limit, first_name, last_name, version, id) "
           "VALUES (%s, %s, %s, %s, %s, %s)", [date(1990, 5, 17), Decimal("250.00"), "Bo", "Kim", 0, 50])],
         ("param", 0, 0, date(1990, 5, 18)), dialect="mysql",
         capture=[("insert into customer (birth_date, credit_limit, first_name, last_name, version, id) "
                   "values (?, ?, ?, ?, ?, ?)", [date(1990, 5, 17), Decimal("250.00"), "Bo", "Kim", 0, 50])]),
    Case("hibernate boolean on BIT(1)",
         [("UPDATE customer SET vip = %s, version = %s WHERE id = %s AND version = %s", [True, 4, 2, 3])],
         ("param", 0, 0, False), dialect="mysql",
         capture=[("update customer set vip=?, version=? where id=? and version=?", [True, 4, 2, 3])]),
    Case("hibernate versioned delete",
         [("DELETE FROM customer WHERE id = %s AND version = %s", [3, 1])],
         ("param", 0, 0, 2), dialect="mysql",
         capture=[("delete from customer where id=? and version=?", [3, 1])]),
    Case("mybatis insert with DATETIME and TIME",
         [("INSERT INTO t_account_log (log_id, account_no, amount, log_type, logged_at, logged_time) "
           "VALUES (%s, %s, %s, %s, %s, %s)",
           [77, "110-234-567890", Decimal("12.5000"), "D", datetime(2026, 12, 2, 23, 59, 59), time(23, 59, 59)])],
         ("param", 0, 4, datetime(2026, 12, 3, 0, 0, 0)), dialect="mysql",
         capture=[("INSERT INTO t_account_log (log_id, account_no, amount, log_type, logged_at, logged_time) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [77, "110-234-567890", "12.5", "D", "2026-12-02 23:59:59", "23:59:59"])]),
    Case("connector/j client-side prepared text (inlined literals)",
         [("UPDATE t_account_log SET amount = 13.7500, log_type = 'C' WHERE log_id = 77", None)],
         ("sql", 0, "'C'", "'c'"), dialect="mysql"),
    # --- MySQL upserts --------------------------------------------------------------------------
    Case("ON DUPLICATE KEY UPDATE with VALUES() inserting",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
           "ON DUPLICATE KEY UPDATE qty = VALUES(qty)", [1, "SKU-9", 7])],
         ("param", 0, 2, 8), dialect="mysql"),
    Case("ON DUPLICATE KEY UPDATE with VALUES() updating",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
           "ON DUPLICATE KEY UPDATE qty = VALUES(qty)", [1, "SKU-1", 3])],
         ("param", 0, 2, 10), dialect="mysql"),
    Case("ON DUPLICATE KEY UPDATE with a row alias (MySQL 8.0.19+)",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) "
           "ON DUPLICATE KEY UPDATE qty = VALUES(qty)", [1, "SKU-2", 4])],
         ("param", 0, 2, 5), dialect="mysql",
         capture=[("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s) AS new "
                   "ON DUPLICATE KEY UPDATE qty = new.qty", [1, "SKU-2", 4])]),
    Case("multi-row ON DUPLICATE KEY UPDATE",
         [("INSERT INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s), (%s, %s, %s) "
           "ON DUPLICATE KEY UPDATE qty = VALUES(qty)", [2, "SKU-3", 30, 2, "SKU-4", 40])],
         ("param", 0, 5, 41), dialect="mysql"),
    Case("ON DUPLICATE KEY UPDATE counter (after-image)",
         [("INSERT INTO page_hits (path, hits) VALUES (%s, 1) ON DUPLICATE KEY UPDATE hits = hits + 1", ["/home"])],
         ("image", 0, "hits", 43), dialect="mysql",
         after_images=[{"table": "page_hits", "key": {"path": "/home"}, "row": {"hits": 42}}]),
    Case("INSERT IGNORE of an existing row (after-image)",
         [("INSERT IGNORE INTO inventory (warehouse_id, sku, qty) VALUES (%s, %s, %s)", [1, "SKU-9", 99])],
         ("image", 0, "qty", 99), dialect="mysql",
         after_images=[{"table": "inventory", "key": {"warehouse_id": 1, "sku": "SKU-9"}, "row": {"qty": 7}}]),
    Case("REPLACE INTO an existing row",
         [("REPLACE INTO users (id, name, email, active, balance) VALUES (%s, %s, %s, %s, %s)",
           [4, "replaced", "r@example.com", 0, Decimal("0.0001")])],
         ("param", 0, 4, Decimal("0.0002")), dialect="mysql"),
    # --- names, numbers, times, JSON, bytes, text -----------------------------------------------
    Case("back-quoted names with spaces and capitals",
         [("INSERT INTO `Order Items` (`Item Id`, `Amount`, `Memo`) VALUES (%s, %s, %s)",
           [1, Decimal("1234.5678"), "first `quoted` memo"])],
         ("param", 0, 1, Decimal("1234.5679")), dialect="mysql"),
    Case("DECIMAL(40,0) beyond 64 bits and BIGINT UNSIGNED at its maximum",
         [("INSERT INTO big_numbers (id, n, f, u) VALUES (%s, %s, %s, %s)",
           [18446744073709551615, 2**100, 0.1, 18446744073709551614])],
         ("param", 0, 3, 18446744073709551613), dialect="mysql"),
    Case("DECIMAL as text and DOUBLE",
         [("UPDATE big_numbers SET n = %s, f = %s WHERE id = %s", ["-42", 1.5e-10, 18446744073709551615])],
         ("param", 0, 0, "-41"), dialect="mysql"),
    Case("TIMESTAMP written in another zone (an instant)",
         [("INSERT INTO events (id, happened_at) VALUES (%s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000001", datetime(2026, 12, 2, 14, 30)])],
         ("param", 0, 1, datetime(2026, 12, 2, 23, 31, tzinfo=KST)), dialect="mysql",
         capture=[("INSERT INTO events (id, happened_at) VALUES (%s, %s)",
                   ["6f1b6c1e-0000-4000-8000-000000000001", datetime(2026, 12, 2, 23, 30, tzinfo=KST)])]),
    Case("JSON column from text",
         [("INSERT INTO events (id, payload) VALUES (%s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000002", '{"amount": 10, "items": [1, 2]}'])],
         ("param", 0, 1, '{"amount": 10, "items": [1, 3]}'), dialect="mysql"),
    Case("VARBINARY and BLOB from bytes",
         [("INSERT INTO events (id, raw, body) VALUES (%s, %s, %s)",
           ["6f1b6c1e-0000-4000-8000-000000000003", b"\x00\x01\xfe", b"\xff" * 300])],
         ("param", 0, 1, b"\x00\x01\xff"), dialect="mysql"),
    Case("utf8mb4 text beyond the BMP",
         [("UPDATE users SET name = %s WHERE id = %s", ["emoji \U0001f600 한글", 5])],
         ("param", 0, 0, "emoji \U0001f601 한글"), dialect="mysql"),
    Case("a key under a case-insensitive collation is compared exactly",
         [("INSERT INTO fx_deposit (account_no, currency, balance, opened_on) VALUES (%s, %s, %s, %s)",
           ["FX-0002", "EUR", Decimal("10.0000"), date(2026, 12, 2)])],
         ("param", 0, 0, "fx-0002"), dialect="mysql"),
    Case("a key bound as text to an integer column",
         [("UPDATE users SET email = %s WHERE id = %s", ["six@example.com", "6"])],
         ("param", 0, 0, "seven@example.com"), dialect="mysql"),
    Case("UPDATE ... LIMIT 1 by key",
         [("UPDATE fx_deposit SET balance = balance - %s WHERE account_no = %s LIMIT 1", [Decimal("25"), "FX-0001"])],
         ("image", 0, "balance", "75.0001"), dialect="mysql",
         after_images=[{"table": "fx_deposit", "key": {"account_no": "FX-0001"}, "row": {"balance": "75.0000"}}]),
    Case("DELETE ... RETURNING on the candidate (MariaDB)",
         [("DELETE FROM users WHERE id = %s", [7])],
         ("param", 0, 0, 8), dialect="mysql",
         capture=[("DELETE FROM users WHERE id = %s RETURNING id", [7])]),
    Case("stacked transaction: insert, update, delete",
         [("INSERT INTO users (id, name, active) VALUES (%s, %s, %s)", [901, "tmp", True]),
          ("UPDATE users SET name = %s WHERE id = %s", ["tmp2", 901]),
          ("INSERT INTO users (id, name, active) VALUES (%s, %s, %s)", [902, "kept", True]),
          ("DELETE FROM users WHERE id = %s", [901])],
         ("param", 2, 2, False), dialect="mysql"),
    Case("composite key update and delete",
         [("UPDATE inventory SET qty = %s WHERE warehouse_id = %s AND sku = %s", [0, 1, "SKU-1"]),
          ("DELETE FROM inventory WHERE sku = %s AND warehouse_id = %s", ["SKU-4", 2])],
         ("param", 1, 0, "SKU-3"), dialect="mysql"),
    Case("many rows of one table in one transaction (batched read)",
         [("UPDATE users SET balance = %s WHERE id = %s", [Decimal(n), n]) for n in range(8, 15)],
         ("param", 4, 0, Decimal("99")), dialect="mysql"),
    Case("scheduling modifiers (LOW_PRIORITY, QUICK)",
         [("UPDATE LOW_PRIORITY users SET email = %s WHERE id = %s", ["low@example.com", 10]),
          ("DELETE QUICK FROM inventory WHERE warehouse_id = %s AND sku = %s", [1, "SKU-2"])],
         ("param", 0, 0, "high@example.com"), dialect="mysql"),
    # --- shapes the checker does not verify on MySQL: unverifiable, with a reason ---------------
    Case("UPDATE IGNORE",
         [("UPDATE IGNORE users SET email = %s WHERE id = %s", ["ignored@example.com", 11])],
         ("param", 0, 0, "other@example.com"), dialect="mysql", unverifiable="UPDATE IGNORE"),
    Case("multi-table UPDATE with a JOIN",
         [("UPDATE users u JOIN customer c ON c.id = u.id SET u.name = c.first_name WHERE u.id = 2", None)],
         ("sql", 0, "u.id = 2", "u.id = 3"), dialect="mysql", unverifiable="JOIN"),
    Case("INSERT ... SELECT",
         [("INSERT INTO audit_trail (who, what) SELECT name, 'copied' FROM users WHERE id = 2", None)],
         ("sql", 0, "'copied'", "'copies'"), dialect="mysql", unverifiable="INSERT ... SELECT"),
    Case("a table without a key",
         [("INSERT INTO audit_trail (happened_at, who, what) VALUES (%s, %s, %s)", [T0, "me", "x"])],
         ("param", 0, 2, "y"), dialect="mysql", unverifiable="key"),
    Case("executable comments",
         [("UPDATE users SET /*!50000 name = 'x', */ email = 'x' WHERE id = 9", None)],
         ("sql", 0, "email = 'x'", "email = 'y'"), dialect="mysql", unverifiable="executable comment"),
]
