"""Ledger sources, counterparts (the bank's books) and reconciliation runs."""

from __future__ import annotations

import datetime as dt

from django.db import models

from console.models import counter, owning_migration
from verifiers.models.targets import DsnMixin
from verifiers.reconcile import balances


class LedgerSource(DsnMixin):
    """A ledger database and the mapping of our concepts onto its own schema."""

    migration = owning_migration("ledger_sources")
    name = models.CharField(max_length=100)
    accounts_table = models.CharField(max_length=200)
    account_key = models.CharField(max_length=100)
    balance_column = models.CharField(max_length=100)
    currency_column = models.CharField(
        max_length=100, blank=True, help_text="Column holding each account's currency (or give currency_code)."
    )
    currency_code = models.CharField(
        max_length=3, blank=True,
        help_text="The one currency of a single-currency ledger, instead of a currency column (e.g. USD).",
    )
    entries_table = models.CharField(max_length=200)
    entry_account_column = models.CharField(max_length=100)
    entry_amount_column = models.CharField(max_length=100)
    entry_time_column = models.CharField(max_length=100, help_text="Business time of the entry.")
    business_time_zone = models.CharField(
        max_length=64, default="UTC", blank=True,
        help_text="IANA zone whose wall times the business times are when stored without a zone "
        "(PostgreSQL timestamp, MySQL DATETIME); blank means UTC.",
    )
    opening_balance_column = models.CharField(max_length=100, blank=True)
    version_column = models.CharField(max_length=100, blank=True)
    cutoff_time = models.TimeField(default=dt.time(0, 0))
    time_zone = models.CharField(max_length=64, default="Asia/Seoul")
    workers = models.PositiveSmallIntegerField(default=2, help_text="Key ranges reconciled in parallel.")
    wait_timeout_s = models.PositiveIntegerField(
        default=60, help_text="How long to wait for transactions begun before the cut-off."
    )
    counterpart_table = models.CharField(
        max_length=200, blank=True,
        help_text="Optional table in the ledger database with columns currency, total: the counterpart "
        "is read from it, inside the run's snapshot, when none was uploaded or entered for the cut-off date.",
    )
    counterpart_date_column = models.CharField(
        max_length=100, blank=True,
        help_text="Date column of counterpart_table holding the cut-off date (blank: the table holds one day).",
    )
    enabled = models.BooleanField(default=True, help_text="Run on schedule every day.")
    schedule = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["migration", "name"], name="ledger_source_migration_name_unique")]

    def __str__(self) -> str:
        return self.name


class Counterpart(models.Model):
    """The bank's own total per currency as of a cut-off (statement or general-ledger control)."""

    class Origin(models.TextChoices):
        CSV = "csv", "Uploaded CSV"
        TABLE = "table", "Database table"
        MANUAL = "manual", "Entered by an admin"
        API = "api", "API"

    source = models.ForeignKey(LedgerSource, on_delete=models.CASCADE, related_name="counterparts")
    cutoff_date = models.DateField()
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=30, decimal_places=4)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    entered_by = models.CharField(max_length=150, blank=True)
    entered_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "cutoff_date", "currency"], name="counterpart_unique")
        ]


class ReconciliationRun(models.Model):
    """One reconciliation of one source at one cut-off. A re-run is a new row, never an overwrite."""

    class Status(models.TextChoices):
        RUNNING = "running"
        # The verdicts balances.reconciliation_status() gives, stored as they are.
        BALANCED = balances.STATUS_BALANCED
        DISCREPANCIES = balances.STATUS_DISCREPANCIES
        FAILED = balances.STATUS_FAILED

    source = models.ForeignKey(LedgerSource, on_delete=models.PROTECT, related_name="runs")
    cutoff = models.DateTimeField()
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RUNNING)
    triggered_by = models.CharField(max_length=150, default="schedule")
    started_at = models.DateTimeField(auto_now_add=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Each step of a running run (coordinator, snapshot keeper, parts) updates this; the watchdog
    # fails a run whose heartbeat is older than RECONCILE_STALE_AFTER_S (its worker died).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    workers = models.PositiveSmallIntegerField(default=1)
    accounts_checked = counter()
    accounts_with_differences = counter()
    totals = models.JSONField(
        default=dict, blank=True,
        help_text="{currency: {balance_at_cutoff, journal, counterpart, difference, accounts}}",
    )
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["source", "-started_at"], name="run_source_started")]
        ordering = ["-started_at"]
        permissions = [("rerun_reconciliation", "Can start a reconciliation run now")]

    def __str__(self) -> str:
        return f"{self.source} @ {self.cutoff:%Y-%m-%d %H:%M %Z} ({self.status})"


class AccountDifference(models.Model):
    """An account whose cut-off balance disagrees with its journal."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    account_key = models.CharField(max_length=100)
    currency = models.CharField(max_length=3)
    balance_at_cutoff = models.DecimalField(max_digits=30, decimal_places=4)
    journal = models.DecimalField(max_digits=30, decimal_places=4)
    difference = models.DecimalField(max_digits=30, decimal_places=4)

    class Meta:
        indexes = [models.Index(fields=["run", "account_key"], name="difference_run_account")]
        ordering = ["account_key"]
