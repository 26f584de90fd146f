"""Personal data as real systems write it, masked before anything is stored or e-mailed.

Each case is (where it appears, the raw value, what must not survive, what must survive). The
masked text must not contain the personal digits/letters, and must keep what an operator needs to
read a difference (amounts, dates, ids that are not personal).
"""

from __future__ import annotations

import orjson
import pytest

from console.masking import luhn_valid, mask_document, mask_text

# (label, value as it appears in a string, secret that must disappear)
IN_TEXT = [
    ("card with spaces", "paid by 4111 1111 1111 1111 today", "1111 1111 1111 1"),
    ("card plain", "pan=4111111111111111", "41111111"),
    ("card dashed", "card 5500-0000-0000-0004", "5500-0000-0000"),
    ("amex 15 digits", "amex 378282246310005", "3782822463"),
    ("card in json string", '{"memo": "card 4111111111111111"}', "41111111"),
    ("rrn with dash", "rrn 900101-1234567", "900101-1234567"),
    ("rrn without dash", "주민번호 9001011234567 확인", "9001011234567"),
    ("mobile with dashes", "010-1234-5678", "010-1234"),
    ("mobile with spaces", "call 010 1234 5678", "010 1234"),
    ("mobile plain", "01012345678", "0101234"),
    ("seoul landline", "02-123-4567", "02-123"),
    ("mobile with dots", "010.1234.5678", "010.1234"),
    ("korea international", "+82 10-1234-5678", "10-1234"),
    ("korea e164", "+821012345678", "+82101234"),
    ("us international", "tel +1 415 555 2671", "415 555"),
    ("uk international", "+44 20 7946 0958", "20 7946"),
    ("email", "contact hong.gildong@bank.co.kr", "ong.gildong"),
    ("account dashed", "sent to 110-234-567890", "110-234"),
]

# Strings that look numeric but are not personal: they must stay readable.
NOT_PERSONAL = [
    "2026-12-01T00:00:00+09:00",
    "1733040000000",  # epoch ms
    "1733040000000000",  # epoch µs
    "+1500000.00",  # a signed amount
    "12,345,678.90",
    "4111111111111112",  # fails Luhn: an order number, not a card
    "TX-20261201-000123",
    "v1.24.3",
]


@pytest.mark.parametrize(("label", "raw", "secret"), IN_TEXT, ids=[case[0] for case in IN_TEXT])
def test_personal_values_in_text_are_masked(label, raw, secret):
    masked = mask_text(raw)
    assert secret not in masked, f"{label}: {masked!r}"
    assert "*" in masked


@pytest.mark.parametrize("raw", NOT_PERSONAL)
def test_values_that_are_not_personal_stay_readable(raw):
    assert mask_text(raw) == raw
    assert mask_document({"value": raw}) == {"value": raw}


def test_luhn_check_accepts_real_test_cards_only():
    assert luhn_valid("4111 1111 1111 1111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111 1111 1111 1112") and not luhn_valid("")


@pytest.mark.parametrize("key", ["card", "Card", "cardNum", "X-Card-Number", "customerCardNo", "credit_card",
                                 "pan", "payerEmail", "customer-phone", "x-api-key", "Authorization", "Cookie"])
def test_fields_named_like_personal_data_are_masked_whatever_their_prefix(key):
    masked = mask_document({key: "Secret-123456789"})
    assert masked[key] != "Secret-123456789"
    assert "3456789" not in masked[key][:-4] if masked[key] else True


@pytest.mark.parametrize("key", ["cardType", "card_brand", "tokenType", "emailVerified", "amount", "currency"])
def test_fields_that_only_look_personal_are_kept(key):
    assert mask_document({key: "VISA"}) == {key: "VISA"}


def test_query_string_parameters_are_masked_by_name_and_by_value():
    masked = mask_document({"path": "/cards", "query": "cardNo=4111111111111111&phone=010-1234-5678&page=2"})
    query = masked["query"]
    assert "41111111" not in query and "010-1234" not in query
    assert query.endswith("&page=2")
    assert query.startswith("cardNo=")


def test_query_string_with_a_name_parameter_keeps_other_values():
    masked = mask_document({"query": "name=%ED%99%8D%EA%B8%B8%EB%8F%99&currency=KRW"})
    assert masked["query"].endswith("&currency=KRW")
    assert "%ED%99%8D%EA%B8%B8%EB%8F%99" not in masked["query"]


def test_headers_are_masked_by_name():
    headers = {"Authorization": "Bearer abc.def.ghi", "X-Customer-Phone": "01012345678",
               "Content-Type": "application/json", "X-Trace-Id": "t-1"}
    masked = mask_document({"headers": headers})["headers"]
    assert "abc.def" not in masked["Authorization"]
    assert "0101234" not in masked["X-Customer-Phone"]
    assert masked["Content-Type"] == "application/json" and masked["X-Trace-Id"] == "t-1"


def test_masking_a_whole_sample_keeps_its_shape_and_amounts():
    sample = {
        "request": {"method": "GET", "path": "/accounts/110-234-567890", "query": "email=a@b.kr",
                    "headers": {"Cookie": "session=abc"}},
        "legacy": {"status": 200, "body": orjson.dumps({
            "holderName": "홍길동", "balance": "1500000.00", "card": {"number": "4111 1111 1111 1111"},
            "memo": "rrn 9001011234567", "servedAt": "2026-12-01T09:00:00+09:00"}).decode()},
    }
    masked = mask_document(sample)
    body = orjson.loads(mask_text(sample["legacy"]["body"]))
    assert body["balance"] == "1500000.00" and body["servedAt"] == "2026-12-01T09:00:00+09:00"
    assert body["holderName"] == "홍**"
    assert "1111 1111 1111 1" not in body["card"]["number"]
    assert "9001011234567" not in body["memo"]
    assert "110-234" not in masked["request"]["path"]
    assert "a@b.kr" not in masked["request"]["query"]
    assert masked["request"]["headers"]["Cookie"] == "*" * len("session=abc")
