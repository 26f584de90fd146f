"""What verification found: groups of mismatches, stored samples, per-minute counts.

Shared by the read verifier (kind=read) and the write verifier (kind=write).
"""

from __future__ import annotations

from django.db import models

from console.models import counter, owning_migration


class VerificationKind(models.TextChoices):
    READ = "read"
    WRITE = "write"


class Severity(models.TextChoices):
    """How much a mismatch matters: set per route, carried by the groups the verifiers file."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class MismatchGroup(models.Model):
    """All mismatches with the same fingerprint (route or table + differing paths and kinds)."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        IGNORED = "ignored"

    migration = owning_migration("mismatch_groups")
    kind = models.CharField(max_length=5, choices=VerificationKind.choices)
    fingerprint = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    # read: "GET /accounts/{id}/balance"; write: "UPDATE accounts"
    subject = models.CharField(max_length=300, db_index=True)
    outcome = models.CharField(max_length=20, default="mismatch", help_text="mismatch, error, orphaned ...")
    differences = models.JSONField(default=list, help_text="[{pattern, kind}] that define the group")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    severity = models.CharField(max_length=10, default=Severity.MEDIUM)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = counter()
    stored_samples = models.PositiveIntegerField(default=0)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["migration", "kind", "fingerprint"], name="group_migration_kind_fingerprint_unique"
        )]
        indexes = [models.Index(fields=["kind", "status", "-last_seen"], name="group_kind_status_seen")]
        ordering = ["-last_seen"]
        permissions = [
            ("reverify_mismatchgroup", "Can replay a group's samples against the candidate now"),
            ("triage_mismatchgroup", "Can acknowledge, ignore or reopen a mismatch group"),
        ]

    def __str__(self) -> str:
        return self.title


class MismatchSample(models.Model):
    """One stored, masked example of a group (capped per group).

    Read: request, legacy and candidate answers. Write: request holds the captured statements,
    candidate the expected rows, legacy the actual rows, and select_sql the generated check.
    """

    group = models.ForeignKey(MismatchGroup, on_delete=models.CASCADE, related_name="samples")
    sample_id = models.CharField(max_length=100)
    captured_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=20)
    request = models.JSONField(default=dict)
    legacy = models.JSONField(default=dict)
    candidate = models.JSONField(default=dict)
    differences = models.JSONField(default=list)
    select_sql = models.TextField(blank=True)
    legacy_latency_ms = models.FloatField(null=True, blank=True)
    candidate_latency_ms = models.FloatField(null=True, blank=True)
    reverified_at = models.DateTimeField(null=True, blank=True)
    reverify_outcome = models.CharField(max_length=20, blank=True)
    reverify_differences = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "sample_id"], name="sample_group_id_unique")]
        indexes = [models.Index(fields=["recorded_at"], name="sample_recorded_at")]
        ordering = ["-captured_at"]


# What the charts' index-only scans read besides the index keys: ChartCounts' columns.
CHART_INDEX_COLUMNS = ["subject", "matched", "mismatched", "errored", "stale"]


class ChartCounts(models.Model):
    """What a match-rate chart adds up for one subject (route or table) over some time."""

    kind = models.CharField(max_length=5, choices=VerificationKind.choices)
    subject = models.CharField(max_length=300)
    matched = counter()
    mismatched = counter()
    errored = counter()
    stale = counter()

    class Meta:
        abstract = True


class OutcomeCount(ChartCounts):
    """Outcomes per subject (route or table) per minute: matches are counted here, not stored."""

    migration = owning_migration("outcome_counts")
    minute = models.DateTimeField()
    orphaned = counter()
    unverifiable = counter()
    noise_suppressed = counter()
    legacy_latency_ms_sum = models.FloatField(default=0)
    candidate_latency_ms_sum = models.FloatField(default=0)
    latency_count = counter()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "kind", "subject", "minute"], name="outcome_migration_kind_subject_minute"
            )
        ]
        indexes = [
            models.Index(fields=["kind", "minute"], name="outcome_kind_minute"),
            # The overview and every page filtered by migration: an index-only range scan per migration
            # (the sums the charts and the programme table add up are in the index).
            models.Index(fields=["migration", "kind", "minute"], name="outcome_migration_kind_minute",
                         include=CHART_INDEX_COLUMNS),
        ]


class FiveMinuteOutcomeCount(ChartCounts):
    """The chart columns of OutcomeCount summed per five minutes, written in the same transaction.

    Charts of 6 hours and more read this: a fifth of the rows of the per-minute table, which is
    what kept the overview over its 200 ms target (1M-row benchmark). Subjects as in OutcomeCount.
    """

    migration = owning_migration("five_minute_counts")
    bucket = models.DateTimeField(help_text="Start of the five minutes (aligned to 00:00 UTC)")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "kind", "subject", "bucket"], name="five_minutes_migration_kind_subject_bucket"
            )
        ]
        indexes = [
            models.Index(fields=["migration", "kind", "bucket"], name="five_minutes_migration_kind",
                         include=CHART_INDEX_COLUMNS),
            models.Index(fields=["kind", "bucket"], name="five_minutes_kind_bucket",
                         include=CHART_INDEX_COLUMNS),
        ]


class VerifiedSample(models.Model):
    """Ids of samples/captures already counted, so a redelivered one is counted once.

    Pruned after a few days by the retention job.
    """

    migration = owning_migration("verified_samples")
    kind = models.CharField(max_length=5, choices=VerificationKind.choices)
    sample_id = models.CharField(max_length=100)
    verified_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["migration", "kind", "sample_id"], name="verified_migration_kind_id_unique"
        )]


class NoiseSuggestion(models.Model):
    """A path that differed between two legacy answers: suppressed, counted, offered as an ignore rule."""

    class Status(models.TextChoices):
        SUGGESTED = "suggested"
        ACCEPTED = "accepted", "Accepted as ignore rule"
        DISMISSED = "dismissed"

    migration = owning_migration("noise_suggestions")
    route = models.ForeignKey("verifiers.Route", on_delete=models.CASCADE, null=True, related_name="noise")
    subject = models.CharField(max_length=300)
    pattern = models.CharField(max_length=300)
    count = counter()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUGGESTED)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["migration", "subject", "pattern"], name="noise_migration_subject_pattern_unique"
        )]


class ReadStreamEpoch(models.Model):
    """One incarnation of the read sample stream in Redis, and what it took in and gave out.

    `accepted` counts samples the ingest API queued in it, `finished` those the workers judged or
    skipped and acknowledged. When Redis comes back empty a new epoch starts and the old one is
    closed: what it accepted and never finished is `lost` (samples a gateway XADDed directly are not
    counted in `accepted`, so they cannot show up as lost).
    """

    epoch = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)
    accepted = models.BigIntegerField(default=0)
    finished = models.BigIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)
    lost = models.BigIntegerField(null=True, blank=True, help_text="Accepted and never judged; set when the epoch ended.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"read stream epoch {self.epoch}"
