"""Behaviour of the SQL lexer: literal extraction, comments and quoting (pure, no sqlglot)."""

from __future__ import annotations

from decimal import Decimal

from verifiers.write.sqllex import normalise


def test_normalise_replaces_literals_so_variants_share_a_template() -> None:
    first = normalise("UPDATE accounts SET status = 'A', n = 1 WHERE id = 10", "postgres")
    second = normalise("UPDATE accounts SET status = 'B', n = 2.5 WHERE id = 11", "postgres")
    assert first[0] == second[0] == "UPDATE accounts SET status = :_l0, n = :_l1 WHERE id = :_l2"
    assert first[1] == ("A", 1, 10) and second[1] == ("B", Decimal("2.5"), 11)


def test_normalise_handles_doubled_quote_inside_string() -> None:
    text, literals = normalise("UPDATE t SET a = 'it''s -- not a comment' WHERE id = 1", "postgres")
    assert text == "UPDATE t SET a = :_l0 WHERE id = :_l1"
    assert literals == ("it's -- not a comment", 1)


def test_normalise_mysql_backslash_quote_does_not_end_string() -> None:
    text, literals = normalise("UPDATE t SET a = 'x\\'; DROP', b = 2 WHERE id = 1", "mysql")
    assert "DROP" in text  # left inline (backslash escape) but still one string
    assert literals == (2, 1)


def test_normalise_postgres_backslash_in_plain_string_is_literal() -> None:
    text, literals = normalise("UPDATE t SET a = 'C:\\' WHERE id = 1", "postgres")
    assert literals == ("C:\\", 1)


def test_normalise_strips_comments_including_trace_comments() -> None:
    first, _ = normalise("/* trace=abc */ UPDATE t SET a = %s -- x\n WHERE id = %s", "postgres")
    second, _ = normalise("/* trace=def */ UPDATE t SET a = %s -- y\n WHERE id = %s", "postgres")
    assert first == second


def test_normalise_keeps_digits_inside_identifiers_and_placeholders() -> None:
    text, literals = normalise('UPDATE t2 SET "col3" = $1, c_4 = :5 WHERE "123" = $2', "postgres")
    assert literals == ()
    assert "t2" in text and '"123"' in text and "$1" in text


def test_normalise_keeps_typed_literals_inline() -> None:
    text, literals = normalise("UPDATE t SET d = DATE '2024-01-01', i = INTERVAL '1 day' WHERE id = 3", "postgres")
    assert "DATE '2024-01-01'" in text and "INTERVAL '1 day'" in text
    assert literals == (3,)


def test_normalise_oracle_q_quote_is_one_token() -> None:
    text, literals = normalise("UPDATE t SET a = q'[it's; fine]' WHERE id = 1", "oracle")
    assert "q'[it's; fine]'" in text and literals == (1,)


def test_normalise_postgres_dollar_quote_is_one_token() -> None:
    text, literals = normalise("UPDATE t SET a = $$it's 1$$ WHERE id = 1", "postgres")
    assert "$$it's 1$$" in text and literals == (1,)
