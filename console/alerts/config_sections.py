"""The alerts' configuration sections (see console.configuration): rules and recipients."""

from __future__ import annotations

from console.alerts.models import AlertRecipient, AlertRule
from console.configuration.sections import Section, register_section


def register() -> None:
    # `migration` may be null in these keys: a rule or recipient for every migration.
    register_section(Section(name="alert_rules", model=AlertRule, key=("migration", "kind"),
                             references={"migration": "migrations"},
                             fields=("enabled", "threshold", "window_minutes")))
    register_section(Section(name="alert_recipients", model=AlertRecipient, key=("migration", "email"),
                             references={"migration": "migrations"},
                             fields=("name", "kinds", "active")))
