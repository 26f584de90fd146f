"""Who receives which alerts, per-kind rules (threshold, throttle window), and what was sent."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.alerts.events import ALERT_KIND_LABELS, SUBSCRIBABLE_KINDS, AlertKind

KIND_CHOICES = [(kind.value, ALERT_KIND_LABELS[kind]) for kind in SUBSCRIBABLE_KINDS]


class AlertRecipient(models.Model):
    """An on-call address and the kinds of alert it subscribes to."""

    migration = models.ForeignKey(
        "console.Migration", on_delete=models.CASCADE, null=True, blank=True, related_name="alert_recipients",
        help_text="Receives this migration's alerts only; empty: every migration's and the programme-wide ones.",
    )
    email = models.EmailField()
    name = models.CharField(max_length=100, blank=True)
    kinds = models.JSONField(default=list, blank=True, help_text="Alert kinds this address receives.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "email"], name="alert_recipient_migration_email", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def clean(self) -> None:
        known = {value for value, _ in KIND_CHOICES}
        if not isinstance(self.kinds, list) or not all(isinstance(k, str) and k in known for k in self.kinds):
            raise ValidationError({"kinds": f"Must be a list of: {', '.join(sorted(known))}."})


class AlertRule(models.Model):
    """Per kind: whether it alerts, its threshold and its throttle window."""

    migration = models.ForeignKey(
        "console.Migration", on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules",
        help_text="This migration's own rule for the kind; empty: the rule for every migration without one.",
    )
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    enabled = models.BooleanField(default=True)
    threshold = models.FloatField(
        null=True, blank=True,
        help_text="mismatch_rate: share (0-1) for routes without their own threshold; "
        "reconciliation: accounts with differences needed to alert (failures always alert); others: unused.",
    )
    window_minutes = models.PositiveIntegerField(
        default=30, help_text="After an alert, more events of the same group/key within this go into a digest."
    )

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(fields=["migration", "kind"], name="alert_rule_migration_kind", nulls_distinct=False)
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'on' if self.enabled else 'off'})"

    def clean(self) -> None:
        if self.kind == AlertKind.MISMATCH_RATE and self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValidationError({"threshold": "A mismatch rate threshold is a share between 0 and 1."})
        if self.window_minutes < 1:
            raise ValidationError({"window_minutes": "At least one minute."})


class SentAlert(models.Model):
    """One alert or digest e-mail batch as sent (one row per message kind and key, not per recipient)."""

    migration = models.ForeignKey(
        "console.Migration", on_delete=models.SET_NULL, null=True, blank=True, related_name="sent_alerts",
        help_text="The migration the alert was about; empty: programme-wide (NUMA, stalled verifier).",
    )
    kind = models.CharField(max_length=20)
    key = models.CharField(max_length=200)
    digest = models.BooleanField(default=False)
    subject = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True)
    recipients = models.JSONField(default=list)
    events = models.PositiveIntegerField(default=1, help_text="Events (occurrences) this e-mail stands for.")
    sent_at = models.DateTimeField(db_index=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["key", "-sent_at"], name="sentalert_key_sent")]

    def __str__(self) -> str:
        return self.subject
