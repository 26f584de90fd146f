"""The demo world: a simulated legacy ledger, a candidate ledger and the traffic between them.

Not product code. It gives the console something real to verify: two aiohttp services over one
PostgreSQL ledger (the candidate differs from the legacy in a few documented, deliberate ways,
see README.md), a seeded ledger database, and a traffic generator that mirrors reads and shadow
writes to the console. It imports no Django so it runs as its own processes.
"""

from __future__ import annotations

DEFAULT_LEDGER_URL = "postgresql://postgres@127.0.0.1:5432/mhc_demo_ledger"
DEFAULT_LEGACY_PORT = 8101
DEFAULT_CANDIDATE_PORT = 8102
BIND_HOST = "127.0.0.1"
# The demo's two migrations (slugs): the world names one in every post to the console.
WON_MIGRATION = "won-deposits"
FX_MIGRATION = "fx-deposits"


class DemoWorldError(Exception):
    """Bad input or an unusable environment for the demo world (the message says which)."""
