"""Behaviour of personal-data masking (pure: no database)."""

from __future__ import annotations

import copy

import orjson
import pytest

from console.masking import (
    DEFAULT_MASKING_RULES,
    MaskingError,
    MaskStyle,
    mask_document,
    mask_text,
    mask_value,
    masking_rules_from_dict,
)

# ----------------------------------------------------------------------------- styles


def test_number_style_keeps_last_four_digits_and_separators():
    assert mask_value("110-234-567890", MaskStyle.NUMBER) == "***-***-**7890"
    assert mask_value("01012345678", "number") == "*******5678"


def test_number_style_on_short_values_keeps_at_most_half():
    assert mask_value("1234", MaskStyle.NUMBER) == "**34"


def test_name_style_keeps_first_character():
    assert mask_value("홍길동", MaskStyle.NAME) == "홍**"
    assert mask_value("Kim", MaskStyle.NAME) == "K**"
    assert mask_value("A", MaskStyle.NAME) == "*"


def test_email_style_keeps_first_letter_and_domain():
    assert mask_value("hong.gildong@bank.co.kr", MaskStyle.EMAIL) == "h***********@bank.co.kr"
    assert mask_value("a@b.kr", MaskStyle.EMAIL) == "a**@b.kr"


def test_full_style_hides_everything():
    assert mask_value("900101-1234567", MaskStyle.FULL) == "*" * 14


def test_auto_style_picks_by_content():
    assert mask_value("x@y.kr", MaskStyle.AUTO) == "x**@y.kr"
    assert mask_value("010-1234-5678", MaskStyle.AUTO) == "***-****-5678"
    assert mask_value("홍길동", MaskStyle.AUTO) == "홍**"


# ----------------------------------------------------------------------------- documents


def test_named_fields_are_masked_case_and_separator_insensitively():
    masked = mask_document({"HolderName": "홍길동", "account_no": "110-234-567890",
                            "ACCOUNT-NUMBER": "3333-01-1234567", "Email": "hong@bank.kr"})
    assert masked == {"HolderName": "홍**", "account_no": "***-***-**7890",
                      "ACCOUNT-NUMBER": "****-**-***4567", "Email": "h***@bank.kr"}


def test_fields_that_are_not_personal_are_untouched():
    document = {"amount": "1000000000", "currency": "KRW", "bookedAt": "2024-05-01T09:00:00+09:00",
                "productName": "정기예금", "status": "ACTIVE"}
    assert mask_document(document) == document


def test_numeric_personal_field_becomes_masked_string():
    assert mask_document({"accountNumber": 1102345678}) == {"accountNumber": "******5678"}


def test_everything_below_a_personal_field_is_masked():
    masked = mask_document({"phone": {"home": "02-123-4567", "mobile": ["010-9999-8888"]}})
    assert masked == {"phone": {"home": "**-***-4567", "mobile": ["***-****-8888"]}}


def test_nested_documents_and_arrays_are_walked():
    document = {"items": [{"counterparty": {"name": "김철수", "bank": "088"}}]}
    assert mask_document(document) == {"items": [{"counterparty": {"name": "김**", "bank": "088"}}]}


def test_mask_document_does_not_modify_its_input():
    document = {"name": "홍길동", "items": [{"phone": "010-1234-5678"}]}
    before = copy.deepcopy(document)
    mask_document(document)
    assert document == before


def test_null_boolean_and_empty_values_survive():
    document = {"name": None, "phone": "", "email": False, "n": 3}
    assert mask_document(document) == document


# ----------------------------------------------------------------------------- regexes in strings


def test_phone_number_inside_free_text_is_masked():
    assert mask_document({"memo": "call 010-1234-5678 now"}) == {"memo": "call ***-****-5678 now"}


def test_account_number_inside_free_text_is_masked():
    assert mask_text("sent to 110-234-567890.") == "sent to ***-***-**7890."


def test_card_number_is_masked_like_an_account():
    assert mask_text("card 1234-5678-9012-3456") == "card ****-****-****-3456"


def test_resident_registration_number_is_fully_hidden():
    assert mask_text("rrn 900101-1234567") == "rrn " + "*" * 14


def test_email_inside_text_is_masked():
    assert mask_text("mail hong@bank.kr please") == "mail h***@bank.kr please"


def test_dates_and_amounts_are_not_mistaken_for_accounts():
    text = "booked 2024-05-01 amount 1000000000 ref 12-34"
    assert mask_text(text) == text


# ----------------------------------------------------------------------------- text bodies


def test_json_text_is_parsed_masked_and_reserialised():
    body = b'{"holderName": "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99", "amount": 100}'
    assert orjson.loads(mask_text(body)) == {"holderName": "홍**", "amount": 100}


def test_invalid_json_looking_text_falls_back_to_regexes():
    assert mask_text('{"phone": 010-1234-5678') == '{"phone": ***-****-5678'


def test_mask_text_rejects_non_text():
    with pytest.raises(MaskingError, match="str or bytes"):
        mask_text(42)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- configuration


def test_rules_from_dict_extends_defaults():
    rules = masking_rules_from_dict({"fields": {"nickName": "name"}})
    masked = mask_document({"nick_name": "Tiger", "holderName": "홍길동"}, rules)
    assert masked == {"nick_name": "T****", "holderName": "홍**"}


def test_rules_from_dict_can_replace_defaults():
    rules = masking_rules_from_dict({"include_defaults": False, "fields": ["secret"]})
    assert mask_document({"holderName": "홍길동", "secret": "abcd"}, rules) == {
        "holderName": "홍길동", "secret": "a***"}


def test_custom_pattern_is_applied_to_every_string():
    rules = masking_rules_from_dict({
        "include_defaults": False,
        "patterns": [{"name": "member", "regex": r"M\d{6}", "style": "full"}],
    })
    assert mask_text("member M123456 paid", rules) == "member ******* paid"


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"field": ["x"]}, "field"),
        ({"fields": "name"}, "fields"),
        ({"fields": {"name": "blur"}}, "blur"),
        ({"patterns": [{"name": "p", "regex": "(", "style": "full"}]}, "invalid regex"),
        ({"patterns": [{"name": "p", "regex": "x"}]}, "needs name, regex and style"),
        ({"patterns": [{"name": "p", "regex": "x", "style": "full", "color": 1}]}, "color"),
        ({"include_defaults": "no"}, "include_defaults"),
    ],
)
def test_bad_masking_config_names_the_problem(config, named):
    with pytest.raises(MaskingError, match=named.replace("(", r"\(")):
        masking_rules_from_dict(config)


def test_default_rules_cover_common_korean_bank_fields():
    for field in ("name", "holderName", "phone", "accountNumber", "account_no", "email",
                  "depositorName", "rrn"):
        assert DEFAULT_MASKING_RULES.style_for(field) is not None, field


def test_custom_pattern_min_digits_leaves_short_matches_alone():
    rules = masking_rules_from_dict({
        "include_defaults": False,
        "patterns": [{"name": "ref", "regex": r"\d+", "style": "full", "min_digits": 6}],
    })
    assert mask_text("code 1234 ref 1234567", rules) == "code 1234 ref *******"
