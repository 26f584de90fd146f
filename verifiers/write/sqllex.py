"""Lexical scan of captured SQL, without sqlglot: literals, comments, quotes, placeholders.

The write verifier (``sqlcheck``) needs two cheap text passes before any parsing:

* ``normalise`` - replaces inline literals by reserved placeholders ``:_lN`` and drops
  comments, so statements that differ only in literals share one template text.
* ``canonicalise`` - renumbers every placeholder to ``:pN`` (occurrence order) and markers to
  ``:lN`` so sqlglot sees one placeholder syntax whatever the dialect.

Both reject text we cannot lex safely (unterminated quotes/comments, NUL, MySQL executable
comments, mixed placeholder styles) and statements above ``MAX_STATEMENT_CHARS``.

Lexing assumptions (documented limits): PostgreSQL with standard_conforming_strings=on,
MySQL with backslash escapes on and without ANSI_QUOTES, Oracle SQL (not PL/SQL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "MAX_STATEMENT_CHARS",
    "SUPPORTED_DIALECTS",
    "CanonicalText",
    "PlaceholderRef",
    "UnverifiableStatement",
    "canonicalise",
    "check_statement_text",
    "normalise",
    "number_value",
    "resolve_dialect",
]

# Statements above this size are rejected before any scanning or parsing: a 1,000-row
# multi-row INSERT is ~100 KB, and sqlglot needs ~1 s per 200 KB in pure Python.
MAX_STATEMENT_CHARS: Final = 262_144
SUPPORTED_DIALECTS: Final = ("postgres", "mysql", "oracle")
_DIALECT_ALIASES: Final = {"postgresql": "postgres", "pg": "postgres"}


class UnverifiableStatement(Exception):
    """A captured statement (or its binding) that we refuse to verify; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PlaceholderRef:
    """One placeholder occurrence as written in the source statement."""

    style: str  # format | pyformat | dollar | qmark | oracle
    occurrence: int
    number: int | None = None
    name: str | None = None

    @property
    def display(self) -> str:
        if self.style == "dollar":
            return f"${self.number}"
        if self.style == "pyformat":
            return f"%({self.name})s"
        if self.style == "oracle":
            return f":{self.name if self.name is not None else self.number}"
        return "?" if self.style == "qmark" else "%s"


# --------------------------------------------------------------------------------------
# Scanner
# --------------------------------------------------------------------------------------

_ANY = r"(?s:.*?)"
_MARKER = r"""
    (?P<marker>(?<![:\w]):_l(?P<marker_no>\d+)(?!\w))
  | """
_COMMON_TAIL = r"""
  | (?P<hexnum>(?<![\w$:.@])0[xXbB][0-9A-Fa-f]+(?![\w$]))
  | (?P<number>(?<![\w$:.@])(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w$.]))
  | (?P<bad>['"`\x00]|/\*)
"""

_SCAN_SOURCES: Final[dict[str, str]] = {
    "postgres": _MARKER + r"""(?P<comment>--[^\n]*|/\*""" + _ANY + r"""\*/)
  | (?P<dollar>(?<![\w$])\$(?P<dtag>(?:[A-Za-z_]\w*)?)\$""" + _ANY + r"""\$(?P=dtag)\$)
  | (?P<prefixed>(?<![\w$])(?:[eE]'(?:[^'\\]|\\.|'')*'|(?:[bBxXnN]|[uU]&)'(?:[^']|'')*'))
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<ph_pyformat>%\((?P<ph_name>[^)]*)\)[sbt])
  | (?P<ph_format>%[sbt])
  | (?P<percent>%%)
  | (?P<ph_dollar>(?<![\w$])\$(?P<ph_number>\d+))
  | (?P<colon_name>(?<![:\w]):(?=[A-Za-z_"]))
  | (?P<bad_dollar>(?<![\w$])\$(?:[A-Za-z_]\w*)?\$)
""" + _COMMON_TAIL,
    "mysql": _MARKER + r"""(?P<comment>--(?=\s|$)[^\n]*|\#[^\n]*|/\*""" + _ANY + r"""\*/)
  | (?P<bad_dashes>--)
  | (?P<prefixed>(?<![\w$])[bBxXnN]'(?:[^'\\]|\\.|'')*')
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<qident>`(?:[^`]|``)*`)
  | (?P<ph_qmark>\?)
  | (?P<ph_pyformat>%\((?P<ph_name>[^)]*)\)s)
  | (?P<ph_format>%s)
  | (?P<percent>%%)
  | (?P<colon_name>(?<![:\w]):(?=[A-Za-z_"]))
""" + _COMMON_TAIL,
    "oracle": _MARKER + r"""(?P<comment>--[^\n]*|/\*""" + _ANY + r"""\*/)
  | (?P<prefixed>(?<![\w$])(?:[nN]?[qQ]'(?s:\[.*?\]|\{.*?\}|<.*?>|\(.*?\)|(?P<qdelim>[^\s\[{<(])"""
    + r""".*?(?P=qdelim))'|[nN]'(?:[^']|'')*'))
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<ph_oracle>(?<![:\w]):(?:(?P<ph_number>\d+)|(?P<ph_name>[A-Za-z][\w$#]*)))
""" + _COMMON_TAIL,
}
# First characters a token can start with.  Python's re tries every alternative at every
# position; this one-character guard makes the scan ~5x faster (measured, see benchmark).
_FIRST_CHARACTER_GUARDS: Final[dict[str, str]] = {
    "postgres": r"""(?=[-/'"`$%:.0-9\x00]|[eEbBxXnN]'|[uU]&')""",
    "mysql": r"""(?=[-/#'"`?%:.0-9\x00]|[bBxXnN]')""",
    "oracle": r"""(?=[-/'"`:.0-9\x00]|[nN]?[qQ]'|[nN]')""",
}
_SCANNERS: Final[dict[str, re.Pattern[str]]] = {
    dialect: re.compile(_FIRST_CHARACTER_GUARDS[dialect] + "(?:" + source + ")", re.VERBOSE)
    for dialect, source in _SCAN_SOURCES.items()
}
_WORD_END_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$\"`:")
_WHITESPACE: Final = " \t\r\n\f\v"


def resolve_dialect(dialect: str) -> str:
    """Canonical dialect name (aliases such as 'postgresql' folded); unsupported ones raise."""
    if not isinstance(dialect, str):
        raise UnverifiableStatement(f"dialect must be a string, got {type(dialect).__name__}")
    name = _DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    if name not in _SCANNERS:
        supported = ", ".join(repr(d) for d in SUPPORTED_DIALECTS)
        raise UnverifiableStatement(f"dialect {dialect!r} is not supported (use {supported})")
    return name


def check_statement_text(sql: object) -> str:
    """The statement itself if it is a non-empty string within MAX_STATEMENT_CHARS, else raise."""
    if not isinstance(sql, str):
        raise UnverifiableStatement(f"statement must be a string, got {type(sql).__name__}")
    if len(sql) > MAX_STATEMENT_CHARS:
        raise UnverifiableStatement(
            f"statement is {len(sql):,} characters, above the {MAX_STATEMENT_CHARS:,} limit"
        )
    if not sql.strip():
        raise UnverifiableStatement("statement is empty")
    return sql


def _preceded_by_word(sql: str, position: int) -> bool:
    """True when a literal directly follows a word: a typed literal (DATE '...') or keyword."""
    index = position - 1
    while index >= 0 and sql[index] in _WHITESPACE:
        index -= 1
    return index >= 0 and sql[index] in _WORD_END_CHARS


def _reject_token(match: re.Match[str], dialect: str) -> None:
    group = match.lastgroup
    text = match.group()
    if group == "colon_name":
        raise UnverifiableStatement(f"':name' placeholders are not valid in {dialect}")
    if group == "marker":
        raise UnverifiableStatement(f"{text!r} is a reserved placeholder name")
    if group == "bad_dashes":
        raise UnverifiableStatement("'--' without a following space is ambiguous in mysql")
    if text == "\x00":
        raise UnverifiableStatement("statement contains a NUL character")
    if text == "/*":
        raise UnverifiableStatement("unterminated /* comment")
    raise UnverifiableStatement(f"unterminated quoted text starting with {text[:1]!r}")


def _check_comment(text: str, dialect: str) -> None:
    if text.startswith("/*"):
        if dialect == "mysql" and (text.startswith("/*!") or text.startswith("/*M!")):
            raise UnverifiableStatement("mysql executable comment /*! ... */ is not verified")
        if dialect == "postgres" and "/*" in text[2:]:
            raise UnverifiableStatement("nested /* comments are not verified")


def _string_value(text: str, dialect: str) -> tuple[bool, Any]:
    """(extractable, value) of a plain quoted string literal."""
    quote = text[0]
    body = text[1:-1]
    if dialect == "mysql" and "\\" in body:
        return False, None  # backslash escapes: leave it to sqlglot
    value = body.replace(quote + quote, quote)
    if dialect == "oracle" and value == "":
        return True, None  # Oracle stores '' as NULL
    return True, value


def number_value(text: str) -> Any:
    """A numeric literal's value: int for plain digits, Decimal otherwise (never float)."""
    if text.isdigit():
        return int(text)
    return Decimal(text)


_VERBATIM_GROUPS: Final = frozenset(
    {"ph_format", "ph_pyformat", "ph_qmark", "ph_dollar", "ph_oracle", "qident", "percent",
     "prefixed", "dollar", "hexnum"}
)  # fmt: skip


def normalise(sql: str, dialect: str) -> tuple[str, tuple[Any, ...]]:
    """Replace inline literals by reserved placeholders ``:_lN``; drop comments.

    Returns ``(template_text, literal_values)``.  Statements that differ only in literals
    or comments get the same template text.  Literals that follow a word (typed literals
    such as ``DATE '2024-01-01'``, ``INTERVAL 1 DAY``) and prefixed strings stay inline.
    """
    dialect = resolve_dialect(dialect)
    check_statement_text(sql)
    literals: list[Any] = []

    def replace(match: re.Match[str]) -> str:
        group = match.lastgroup
        text = match.group()
        if group in _VERBATIM_GROUPS:
            return text
        if group == "number" or group == "string":
            start = match.start()
            if _preceded_by_word(sql, start):
                return text
            if group == "number":
                value = number_value(text)
            else:
                extractable, value = _string_value(text, dialect)
                if not extractable:
                    return text
            literals.append(value)
            return f":_l{len(literals) - 1}"
        if group == "comment":
            _check_comment(text, dialect)
            return " "
        if group in ("marker", "colon_name", "bad", "bad_dashes", "bad_dollar"):
            _reject_token(match, dialect)
        return text

    template_text = _SCANNERS[dialect].sub(replace, sql).strip()
    return template_text, tuple(literals)


@dataclass(slots=True)
class CanonicalText:
    """Statement text with ``:pN``/``:lN`` placeholders, ready for sqlglot."""

    text: str
    placeholders: list[PlaceholderRef]
    literal_slots: set[int]


def canonicalise(sql: str, dialect: str, allow_markers: bool) -> CanonicalText:
    """Rewrite every placeholder to ``:pN`` (occurrence order) and markers to ``:lN``.

    sqlglot does not parse Oracle ``:1`` and numbers anonymous placeholders by tree
    position, so we number them ourselves, in text order, before parsing.
    """
    placeholders: list[PlaceholderRef] = []
    slots: set[int] = set()
    pieces: list[str] = []
    position = 0
    for match in _SCANNERS[dialect].finditer(sql):
        group = match.lastgroup
        text = match.group()
        replacement: str | None = None
        if group is None:
            continue
        if group.startswith("ph_"):
            occurrence = len(placeholders)
            number_text = match.group("ph_number") if "ph_number" in match.re.groupindex else None
            name = match.group("ph_name") if "ph_name" in match.re.groupindex else None
            style = group[3:]
            placeholders.append(
                PlaceholderRef(
                    style=style,
                    occurrence=occurrence,
                    number=int(number_text) if number_text else None,
                    name=name,
                )
            )
            replacement = f":p{occurrence}"
        elif group == "marker":
            if not allow_markers:
                _reject_token(match, dialect)
            slot = int(match.group("marker_no"))
            slots.add(slot)
            replacement = f":l{slot}"
        elif group == "percent":
            replacement = "%"
        elif group == "comment":
            _check_comment(text, dialect)
            replacement = " "
        elif group in ("colon_name", "bad", "bad_dashes", "bad_dollar"):
            _reject_token(match, dialect)
        if replacement is not None:
            pieces.append(sql[position : match.start()])
            pieces.append(replacement)
            position = match.end()
    pieces.append(sql[position:])
    styles = {ref.style for ref in placeholders}
    if len(styles) > 1:
        shown = ", ".join(sorted({ref.display for ref in placeholders}))
        raise UnverifiableStatement(f"statement mixes placeholder styles ({shown})")
    if "dollar" in styles and any(ref.number == 0 for ref in placeholders):
        raise UnverifiableStatement("placeholder $0 is not valid; $-placeholders start at $1")
    if slots and slots != set(range(max(slots) + 1)):
        raise UnverifiableStatement("literal slots are not numbered 0..N-1")
    return CanonicalText("".join(pieces), placeholders, slots)
