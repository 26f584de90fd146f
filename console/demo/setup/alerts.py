"""Demo configuration of the alerts: one on-call recipient for every kind, default rules."""

from __future__ import annotations

from console.alerts.events import SUBSCRIBABLE_KINDS, AlertKind
from console.alerts.models import AlertRecipient, AlertRule

DEMO_RECIPIENT = "oncall@example.bank"
DEMO_RATE_THRESHOLD = 0.05


def setup_demo(command) -> None:
    """Idempotent: a recipient subscribed to everything, and a rule per kind if none exists."""
    AlertRecipient.objects.update_or_create(
        email=DEMO_RECIPIENT,
        defaults={"name": "Demo on-call", "kinds": [k.value for k in SUBSCRIBABLE_KINDS], "active": True},
    )
    for kind in SUBSCRIBABLE_KINDS:
        defaults = {"threshold": DEMO_RATE_THRESHOLD} if kind is AlertKind.MISMATCH_RATE else {}
        AlertRule.objects.get_or_create(kind=kind.value, defaults=defaults)
    command.stdout.write(f"alerts: recipient {DEMO_RECIPIENT}, rules for {len(SUBSCRIBABLE_KINDS)} kinds")
