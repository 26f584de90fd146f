"""The candidate ledger service: the legacy's routes with the documented deliberate differences.

Same code as the legacy (legacy.create_service_app over ledger.py); only its ServiceFlavor
differs. It never commits a transfer: POST /transfers?shadow=1 runs the transaction, captures
the statements and after-images, rolls back and answers with the capture. The differences are
listed precisely in README.md, which the verifiers' tests are checked against.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN

from aiohttp import web

from console.demo.ledger import ServiceFlavor
from console.demo.legacy import DEFAULT_POOL_MAX_SIZE, create_service_app

CANDIDATE_FAULT_ONE_IN = 200

CANDIDATE_FLAVOR = ServiceFlavor(
    name="candidate",
    usd_display_rounding=ROUND_HALF_EVEN,  # difference 1
    usd_fee_rounding=ROUND_HALF_EVEN,  # difference 5
    omit_empty_memo=True,  # difference 2
    tie_order="DESC",  # difference 3
    fault_one_in=CANDIDATE_FAULT_ONE_IN,  # difference 4
    shadow_writes=True,
)


def create_candidate_app(
    dsn: str, *, pool_max_size: int = DEFAULT_POOL_MAX_SIZE
) -> web.Application:
    """The candidate ledger service (shadow writes only)."""
    return create_service_app(dsn, CANDIDATE_FLAVOR, pool_max_size=pool_max_size)
