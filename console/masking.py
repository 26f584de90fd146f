"""Personal-data masking of JSON documents and text (design section 8).

Pure module (no Django). Applied before a sample is stored or e-mailed, so it runs per stored
sample, not per verified one. Two mechanisms:

* field names (case-, `_`- and `-`-insensitive: `accountNumber` == `account_no`), each with a
  style: ``number`` keeps the last 4 digits, ``name`` keeps the first character, ``email`` keeps
  the first character of the local part and the domain, ``full`` hides everything, ``auto``
  picks one from the value;
* regexes applied to every string (phone numbers, account numbers, e-mail addresses, resident
  registration numbers), so personal data inside free text (memos, error messages) is masked too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote_plus

import orjson

__all__ = [
    "DEFAULT_MASKING_RULES",
    "MaskStyle",
    "MaskingError",
    "MaskingRules",
    "TextPattern",
    "mask_document",
    "mask_text",
    "mask_value",
    "masking_rules_from_dict",
]

MASK = "*"
KEEP_LAST = 4


class MaskingError(ValueError):
    """Masking configuration is invalid; the message names the bad key or value."""


class MaskStyle(StrEnum):
    NUMBER = "number"  # 010-1234-5678 -> ***-****-5678
    NAME = "name"  # 홍길동 -> 홍**
    EMAIL = "email"  # hong@bank.kr -> h***@bank.kr
    FULL = "full"  # every character
    AUTO = "auto"  # e-mail if it has '@', number if mostly digits, else name


@dataclass(frozen=True, slots=True)
class TextPattern:
    """A regex applied to every string; each match is masked with `style`."""

    name: str
    regex: re.Pattern[str]
    style: MaskStyle
    min_digits: int = 0  # a match with fewer digits is left alone (dates are not accounts)
    # A further test of the match (a card number's Luhn digit); a match failing it is left alone.
    check: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class MaskingRules:
    # Normalised field name (lower case, letters and digits only) -> style.
    fields: Mapping[str, MaskStyle]
    patterns: tuple[TextPattern, ...] = ()
    # One alternation of all patterns (earlier ones win at the same position): one regex pass
    # per string instead of one per pattern.
    any_pattern: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.patterns:
            combined = "|".join(f"(?P<_mask{index}>{pattern.regex.pattern})"
                                for index, pattern in enumerate(self.patterns))
            try:
                object.__setattr__(self, "any_pattern", re.compile(combined))
            except re.error as error:
                raise MaskingError(f"masking patterns do not combine: {error}") from None

    def style_for(self, key: str) -> MaskStyle | None:
        normalised = _normalise_field(key)
        style = self.fields.get(normalised)
        if style is None and normalised not in _NOT_PERSONAL:
            # Gateways and ORMs prefix names (`X-Card-Number`, `customerCardNo`, `payer_email`):
            # a known personal name at the end of a longer one is the same field.
            for suffix in _SUFFIX_FIELDS:
                if normalised.endswith(suffix) and suffix in self.fields:
                    return self.fields[suffix]
        return style


_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_field_cache: dict[str, str] = {}


def _normalise_field(key: str) -> str:
    normalised = _field_cache.get(key)
    if normalised is None:
        normalised = _NOT_ALNUM.sub("", key.lower())
        if len(_field_cache) < 10_000:
            _field_cache[key] = normalised
    return normalised


# ----------------------------------------------------------------------------- mask styles


def _mask_number(text: str) -> str:
    """Keep the last 4 digits (fewer for short values) and the separators; hide the rest."""
    positions = [i for i, char in enumerate(text) if char.isalnum()]
    keep = KEEP_LAST if len(positions) >= 2 * KEEP_LAST else len(positions) // 2
    hidden = set(positions[:len(positions) - keep])
    return "".join(MASK if i in hidden else char for i, char in enumerate(text))


def _mask_name(text: str) -> str:
    stripped = text.strip()
    if len(stripped) <= 1:
        return MASK * len(stripped)
    return stripped[0] + MASK * (len(stripped) - 1)


def _mask_email(text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at:
        return _mask_name(text)
    return (local[:1] + MASK * max(len(local) - 1, 2)) + "@" + domain


def _mask_full(text: str) -> str:
    return MASK * len(text)


def _mask_auto(text: str) -> str:
    if "@" in text:
        return _mask_email(text)
    digits = sum(char.isdigit() for char in text)
    if digits and digits * 2 >= len(text.replace("-", "").replace(" ", "")):
        return _mask_number(text)
    return _mask_name(text)


_STYLE_FUNCTIONS: dict[MaskStyle, Callable[[str], str]] = {
    MaskStyle.NUMBER: _mask_number,
    MaskStyle.NAME: _mask_name,
    MaskStyle.EMAIL: _mask_email,
    MaskStyle.FULL: _mask_full,
    MaskStyle.AUTO: _mask_auto,
}


def mask_value(text: str, style: MaskStyle | str) -> str:
    """Mask one string with one style."""
    return _STYLE_FUNCTIONS[MaskStyle(style)](text)


# ----------------------------------------------------------------------------- documents


# `a=1&cardNo=4111...`: a whole string shaped like a URL query (no spaces, `name=value` pairs).
_QUERY_STRING = re.compile(r"[^\s=&?#]+=[^\s&#]*(?:&[^\s=&#]+=[^\s&#]*)*")


def _mask_query_parameters(text: str, rules: MaskingRules) -> str | None:
    """Mask each value whose parameter name is a personal field; None if `text` is no query."""
    if "=" not in text or not _QUERY_STRING.fullmatch(text.lstrip("?")):
        return None
    parts = []
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        style = rules.style_for(unquote_plus(name.lstrip("?")))
        if style is not None and value:
            value = quote(_STYLE_FUNCTIONS[style](unquote_plus(value)), safe="*-.@")
        parts.append(f"{name}={value}")
    return "&".join(parts)


def _mask_strings(text: str, rules: MaskingRules) -> str:
    query = _mask_query_parameters(text, rules)
    if query is not None:
        text = query
    if rules.any_pattern is None:
        return text
    patterns = rules.patterns

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        for index, pattern in enumerate(patterns):
            if match.group(f"_mask{index}") is not None:
                if pattern.min_digits and (
                    sum(char.isdigit() for char in found) < pattern.min_digits
                ):
                    return found
                if pattern.check is not None and not pattern.check(found):
                    return found
                return _STYLE_FUNCTIONS[pattern.style](found)
        return found

    return rules.any_pattern.sub(replace, text)


def _mask_under_field(value: Any, style: MaskStyle) -> Any:
    """Everything below a personal field is masked with its style (numbers become strings)."""
    if isinstance(value, str):
        return _STYLE_FUNCTIONS[style](value) if value else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return _STYLE_FUNCTIONS[style](str(value))
    if isinstance(value, Mapping):
        return {key: _mask_under_field(item, style) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_under_field(item, style) for item in value]
    return value


def mask_document(value: Any, rules: MaskingRules | None = None) -> Any:
    """A masked copy of a parsed JSON value (the input is not modified)."""
    rules = DEFAULT_MASKING_RULES if rules is None else rules
    if isinstance(value, str):
        return _mask_strings(value, rules)
    if isinstance(value, Mapping):
        masked = {}
        for key, item in value.items():
            style = rules.style_for(key) if isinstance(key, str) else None
            masked[key] = (mask_document(item, rules) if style is None
                           else _mask_under_field(item, style))
        return masked
    if isinstance(value, (list, tuple)):
        return [mask_document(item, rules) for item in value]
    return value


def mask_text(text: str | bytes, rules: MaskingRules | None = None) -> str:
    """Mask a raw body or e-mail text: JSON is parsed, masked and re-serialised; else regexes."""
    rules = DEFAULT_MASKING_RULES if rules is None else rules
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise MaskingError(f"mask_text needs str or bytes, got {type(text).__name__}")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return orjson.dumps(mask_document(document, rules)).decode("utf-8")
    return _mask_strings(text, rules)


# ----------------------------------------------------------------------------- configuration


def _compile_pattern(name: str, regex: str, style: Any, min_digits: Any = 0,
                     check: Callable[[str], bool] | None = None) -> TextPattern:
    try:
        compiled = re.compile(regex)
    except (re.error, TypeError) as error:
        raise MaskingError(f"masking pattern {name!r}: invalid regex {regex!r}: {error}") from None
    try:
        mask_style = MaskStyle(style)
    except ValueError:
        raise MaskingError(f"masking pattern {name!r}: unknown style {style!r}; allowed: "
                           f"{[s.value for s in MaskStyle]}") from None
    if isinstance(min_digits, bool) or not isinstance(min_digits, int) or min_digits < 0:
        raise MaskingError(f"masking pattern {name!r}: min_digits must be an integer >= 0")
    return TextPattern(name, compiled, mask_style, min_digits, check)


def _fields(value: Any) -> dict[str, MaskStyle]:
    if isinstance(value, Mapping):
        pairs: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, (list, tuple)):
        pairs = ((name, MaskStyle.AUTO) for name in value)
    else:
        raise MaskingError(f"masking 'fields' must be a list of names or a name -> style map, "
                           f"got {value!r}")
    fields: dict[str, MaskStyle] = {}
    for name, style in pairs:
        if not isinstance(name, str) or not _normalise_field(name):
            raise MaskingError(f"masking 'fields': {name!r} is not a field name")
        try:
            fields[_normalise_field(name)] = MaskStyle(style)
        except ValueError:
            raise MaskingError(f"masking 'fields': unknown style {style!r} for {name!r}; "
                               f"allowed: {[s.value for s in MaskStyle]}") from None
    return fields


_CONFIG_KEYS = frozenset({"fields", "patterns", "include_defaults"})


def masking_rules_from_dict(config: Mapping[str, Any]) -> MaskingRules:
    """Build rules from config: {"fields": [...] or {name: style}, "patterns": [{name, regex,
    style, min_digits?}], "include_defaults": true} (defaults extended, not replaced)."""
    if not isinstance(config, Mapping):
        raise MaskingError(f"masking rules must be a mapping, got {type(config).__name__}")
    unknown = sorted(str(key) for key in config if key not in _CONFIG_KEYS)
    if unknown:
        raise MaskingError(f"unknown masking key(s) {unknown}; allowed: {sorted(_CONFIG_KEYS)}")
    include_defaults = config.get("include_defaults", True)
    if not isinstance(include_defaults, bool):
        raise MaskingError("masking 'include_defaults' must be true or false")
    fields = dict(DEFAULT_MASKING_RULES.fields) if include_defaults else {}
    patterns = list(DEFAULT_MASKING_RULES.patterns) if include_defaults else []
    fields.update(_fields(config.get("fields", [])))
    raw_patterns = config.get("patterns", [])
    if not isinstance(raw_patterns, (list, tuple)):
        raise MaskingError("masking 'patterns' must be a list of {name, regex, style} objects")
    for raw in raw_patterns:
        if not isinstance(raw, Mapping) or not {"name", "regex", "style"} <= raw.keys():
            raise MaskingError(f"masking pattern {raw!r} needs name, regex and style")
        extra = set(raw) - {"name", "regex", "style", "min_digits"}
        if extra:
            raise MaskingError(f"masking pattern {raw.get('name')!r}: unknown key(s) "
                               f"{sorted(extra)}")
        patterns.append(_compile_pattern(raw["name"], raw["regex"], raw["style"],
                                         raw.get("min_digits", 0)))
    return MaskingRules(fields=fields, patterns=tuple(patterns))


# Field names seen in Korean core-banking and open-banking APIs.
_DEFAULT_FIELDS: dict[str, MaskStyle] = {
    **dict.fromkeys(
        ["name", "holderName", "accountHolder", "accountHolderName", "ownerName",
         "customerName", "custName", "depositorName", "recipientName", "receiverName",
         "senderName", "payerName", "payeeName", "fullName", "firstName", "lastName",
         "koreanName", "englishName", "address", "addr", "homeAddress"],
        MaskStyle.NAME),
    **dict.fromkeys(
        ["phone", "phoneNumber", "phoneNo", "mobile", "mobileNo", "mobileNumber", "tel",
         "telNo", "cellPhone", "accountNumber", "accountNo", "account_no", "acctNo",
         "bankAccount", "depositAccount", "withdrawAccount", "recipientAccount",
         "virtualAccount", "cardNumber", "cardNo", "card", "cardNum", "creditCard",
         "creditCardNumber", "debitCard", "pan", "primaryAccountNumber", "iban",
         "accountNum", "acctNumber"],
        MaskStyle.NUMBER),
    **dict.fromkeys(["email", "emailAddress", "mail"], MaskStyle.EMAIL),
    **dict.fromkeys(["rrn", "residentNumber", "residentRegistrationNumber", "juminNo", "ssn",
                     "birthDate", "dateOfBirth", "passportNo", "password", "pin", "cvv", "cvc",
                     "securityCode", "authorization", "proxyAuthorization", "cookie", "setCookie",
                     "apiKey", "xApiKey", "accessToken", "refreshToken"],
                    MaskStyle.FULL),
}

# Personal names that also end longer names (`X-Card-Number`, `payerEmail`, `customerPhone`).
# Short ambiguous ones (`name`, `pin`, `tel`, `pan`, `mail`) are exact matches only.
_SUFFIX_FIELDS: tuple[str, ...] = tuple(_normalise_field(name) for name in [
    "cardNumber", "cardNo", "cardNum", "accountNumber", "accountNo", "acctNo", "phoneNumber",
    "phoneNo", "phone", "mobileNo", "mobile", "email", "emailAddress", "residentNumber", "rrn",
    "ssn", "password", "apiKey", "holderName", "customerName",
])
# Names ending like a personal field that are not personal (kinds, counts, flags).
_NOT_PERSONAL = frozenset(_normalise_field(name) for name in [
    "cardType", "cardBrand", "tokenType", "phoneType", "emailVerified", "csrfToken",
])


def luhn_valid(text: str) -> bool:
    """True when the digits of `text` pass the Luhn check that every payment card number carries."""
    digits = [int(char) for char in text if char.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return bool(digits) and total % 10 == 0

# Order matters: resident numbers first (13 digits would also look like an account number),
# then phones, then dashed accounts, then cards; at one position the first pattern that matches
# wins, so a dashed card number that fails the Luhn check is still masked as an account.
_DEFAULT_PATTERNS: tuple[TextPattern, ...] = (
    # YYMMDD, then the sex/century digit 1-8 and six more; with or without the dash.
    _compile_pattern("resident_registration_number",
                     r"(?<![\d-])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-?[1-8]\d{6}(?![\d-])",
                     MaskStyle.FULL),
    # International form: +82 10-1234-5678, +82 (0)2 123 4567, +1 415 555 2671.
    _compile_pattern("international_phone",
                     r"(?<![\w+])\+\d{1,3}(?:[ -]?\(0\))?(?:[ -]?\d{1,4}){2,5}(?![\d-]|[.,]\d)",
                     MaskStyle.NUMBER, min_digits=8),
    # Korean numbers with dashes, dots, spaces or nothing between the groups.
    _compile_pattern("phone",
                     r"(?<![\d-])(?:01[016789]|02|0[3-6][1-5]|070)[ .-]?\d{3,4}[ .-]?\d{4}(?![\d-])",
                     MaskStyle.NUMBER),
    # Account and card numbers: dashed digit groups with at least 10 digits (so dates stay).
    # The lookahead demands 10 digits up front, so dates fail fast instead of matching first.
    _compile_pattern("account_number",
                     r"(?<![\d-])(?=(?:\d-?){10})\d{2,6}(?:-\d{2,8}){1,3}(?![\d-])",
                     MaskStyle.NUMBER),
    # Payment cards: 13-19 digits, plain or in groups split by spaces or dashes, Luhn-valid, not
    # starting with 1 (so order numbers and epoch timestamps of that length stay readable).
    _compile_pattern("card_number",
                     r"(?<![\d-])[2-9]\d{3}(?:[ -]?\d){9,15}(?![\d-]|[.,]\d)", MaskStyle.NUMBER,
                     check=luhn_valid),
    _compile_pattern("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                     MaskStyle.EMAIL),
)

DEFAULT_MASKING_RULES = MaskingRules(
    fields={_normalise_field(name): style for name, style in _DEFAULT_FIELDS.items()},
    patterns=_DEFAULT_PATTERNS,
)
