"""Number formatting for the dashboard: thousands separators, shares, money with its currency. Pure."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

# ISO 4217 minor units of the currencies a Korean bank books; others default to 2.
CURRENCY_DECIMALS: dict[str, int] = {"KRW": 0, "JPY": 0, "VND": 0, "USD": 2, "EUR": 2, "CNY": 2, "GBP": 2}


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_money(value: Any, currency: str) -> str:
    """'KRW 1,234,567' / 'USD -12.50'; an empty string when there is no amount."""
    amount = to_decimal(value)
    if amount is None:
        return ""
    places = CURRENCY_DECIMALS.get(currency.upper(), 2)
    return f"{currency.upper()} {amount:,.{places}f}"


def format_share(value: float | None, places: int = 1) -> str:
    """0.1234 -> '12.3 %'; '–' when unknown."""
    return "–" if value is None else f"{value * 100:.{places}f} %"


def format_count(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
