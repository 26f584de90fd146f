"""Template filters of the NUMA pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; None -> "n/a"."""
    if value is None or value == "":
        return "n/a"
    try:
        return f"{float(value) * 100:,.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "n/a"
