"""Behaviour of route templating and mismatch fingerprints (pure: no database)."""

from __future__ import annotations

import pytest

from verifiers.groups.fingerprint import (
    FingerprintError,
    describe_fingerprint,
    describe_write_fingerprint,
    read_fingerprint,
    route_template,
    write_fingerprint,
)
from verifiers.read.compare import Difference, DiffKind

# ----------------------------------------------------------------------------- route templates


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/accounts/123/balance", "/accounts/{id}/balance"),
        ("/accounts/123/balance?from=2024-01-01&x=1", "/accounts/{id}/balance"),
        ("/accounts/110-234-567890/tx", "/accounts/{id}/tx"),
        ("/tx/3f2b8c1e-9d4a-4b6e-8f00-123456789abc", "/tx/{id}"),
        ("/blobs/0123456789abcdef0123", "/blobs/{id}"),
        ("/transfers/TX20240501000123/status", "/transfers/{id}/status"),
        ("/v1/accounts", "/v1/accounts"),
        ("/accounts/123/", "/accounts/{id}"),
        ("/", "/"),
        ("accounts/7", "/accounts/{id}"),
        ("https://legacy.bank.local/accounts/9/balance?x=1", "/accounts/{id}/balance"),
    ],
)
def test_route_template_replaces_identifier_segments(path, template):
    assert route_template(path) == template


def test_route_words_that_look_like_short_hex_stay():
    assert route_template("/cafe/beef/add") == "/cafe/beef/add"


def test_operator_template_wins_when_it_matches():
    templates = ["/accounts/{account}/tx"]
    assert route_template("/accounts/ABC-x/tx", templates) == "/accounts/{account}/tx"


def test_operator_template_must_match_every_segment():
    templates = ["/accounts/{account}/tx"]
    assert route_template("/accounts/123/balance", templates) == "/accounts/{id}/balance"
    assert route_template("/accounts/123/tx/9", templates) == "/accounts/{id}/tx/{id}"


def test_most_specific_operator_template_wins():
    templates = ["/{resource}/{key}/tx", "/accounts/{account}/tx"]
    assert route_template("/accounts/me/tx", templates) == "/accounts/{account}/tx"


def test_bad_operator_template_is_rejected():
    with pytest.raises(FingerprintError, match="route template"):
        route_template("/a", ["accounts/{id}"])


def test_non_string_path_is_rejected():
    with pytest.raises(FingerprintError, match="path"):
        route_template(None)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- read fingerprints


def changed(path: str) -> Difference:
    return Difference(path, DiffKind.CHANGED, 1, 2)


def test_read_fingerprint_is_short_hex():
    fingerprint = read_fingerprint("/a/{id}", "GET", [changed("$.x")])
    assert len(fingerprint) == 16
    int(fingerprint, 16)


def test_same_kind_at_other_array_index_has_same_fingerprint():
    first = read_fingerprint("/a/{id}", "GET", [changed("$.items[0].amount")])
    second = read_fingerprint("/a/{id}", "GET", [changed("$.items[7].amount")])
    assert first == second


def test_fingerprint_ignores_values_order_and_repetition():
    one = [Difference("$.a", DiffKind.CHANGED, 1, 2), Difference("$.b", DiffKind.MISSING, 3)]
    other = [Difference("$.b", DiffKind.MISSING, 9), Difference("$.a", DiffKind.CHANGED, 5, 6),
             Difference("$.a", DiffKind.CHANGED, 7, 8)]
    assert read_fingerprint("/r", "get", one) == read_fingerprint("/r", "GET", other)


def test_fingerprint_differs_by_kind_path_route_and_method():
    base = read_fingerprint("/r", "GET", [changed("$.a")])
    assert base != read_fingerprint("/r", "GET", [Difference("$.a", DiffKind.TYPE_CHANGED)])
    assert base != read_fingerprint("/r", "GET", [changed("$.b")])
    assert base != read_fingerprint("/s", "GET", [changed("$.a")])
    assert base != read_fingerprint("/r", "POST", [changed("$.a")])


def test_fingerprint_is_stable_across_runs_and_versions():
    # Pinned values: groups stored yesterday must keep their identity after a restart.
    assert read_fingerprint("/accounts/{id}/balance", "GET", [changed("$.amount")]) == (
        "acbc72d2bfcfb991"
    )
    assert write_fingerprint("accounts", "UPDATE", [("balance", "changed")]) == "956a1caa7c24a202"


def test_read_fingerprint_rejects_bad_method_and_non_differences():
    with pytest.raises(FingerprintError, match="method"):
        read_fingerprint("/r", "GET /x", [])
    with pytest.raises(FingerprintError, match="Difference"):
        read_fingerprint("/r", "GET", [("$.a", "changed")])  # type: ignore[list-item]


# ----------------------------------------------------------------------------- write fingerprints


def test_write_fingerprint_ignores_case_and_column_order():
    first = write_fingerprint("Accounts", "update", [("balance", "changed"), ("fee", "missing")])
    second = write_fingerprint("accounts", "UPDATE", {"fee": "missing", "BALANCE": "changed"})
    assert first == second


def test_write_fingerprint_differs_by_table_statement_and_columns():
    base = write_fingerprint("accounts", "UPDATE", [("balance", "changed")])
    assert base != write_fingerprint("ledger", "UPDATE", [("balance", "changed")])
    assert base != write_fingerprint("accounts", "INSERT", [("balance", "changed")])
    assert base != write_fingerprint("accounts", "UPDATE", [("fee", "changed")])


def test_read_and_write_fingerprints_never_collide_on_similar_text():
    assert read_fingerprint("accounts", "UPDATE", []) != write_fingerprint("accounts", "UPDATE", [])


def test_write_fingerprint_rejects_malformed_columns():
    with pytest.raises(FingerprintError, match="column"):
        write_fingerprint("t", "UPDATE", [("balance",)])  # type: ignore[list-item]
    with pytest.raises(FingerprintError, match="table"):
        write_fingerprint("", "UPDATE", [])


# ----------------------------------------------------------------------------- descriptions


def test_describe_single_difference():
    title = describe_fingerprint("get", "/accounts/{id}/balance", [changed("$.amount")])
    assert title == "GET /accounts/{id}/balance: $.amount changed"


def test_describe_generalises_indexes_and_truncates_long_lists():
    differences = [changed("$.items[3].amount"), changed("$.items[4].amount"),
                   Difference("$.a", DiffKind.MISSING), Difference("$.b", DiffKind.EXTRA),
                   Difference("$.c", DiffKind.TYPE_CHANGED), Difference("status", DiffKind.STATUS)]
    title = describe_fingerprint("GET", "/r", differences, max_items=2)
    assert title == "GET /r: $.a missing, $.b extra (+3 more)"


def test_describe_write_fingerprint():
    title = describe_write_fingerprint("Accounts", "update", [("balance", "changed")])
    assert title == "UPDATE accounts: balance changed"
