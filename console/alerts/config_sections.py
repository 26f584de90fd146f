"""The alerts' configuration sections (see console.configuration): rules and recipients."""

from __future__ import annotations

from console.alerts.models import AlertRecipient, AlertRule
from console.configuration.sections import Section, register_section


def register() -> None:
    register_section(Section(name="alert_rules", model=AlertRule, key=("kind",),
                             fields=("enabled", "threshold", "window_minutes")))
    register_section(Section(name="alert_recipients", model=AlertRecipient, key=("email",),
                             fields=("name", "kinds", "active")))
