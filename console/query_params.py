"""Query parameters that pages parse: a wrong value is a 400 naming the parameter, never a 500."""

from __future__ import annotations

import math

from django.core.exceptions import BadRequest

# A month: the longest window any page charts (per-minute buckets beyond that are not useful).
MAX_WINDOW_HOURS = 24 * 31


def hours_param(raw: str | None, *, default: float, maximum: float = MAX_WINDOW_HOURS, name: str = "hours") -> float:
    """A finite, positive number of hours up to `maximum`; `default` when absent or empty."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"Query parameter {name!r} must be a number of hours, not {raw[:40]!r}.") from None
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise BadRequest(f"Query parameter {name!r} must be more than 0 and at most {maximum:g} hours, "
                         f"not {raw[:40]!r}.")
    return value
