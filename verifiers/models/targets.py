"""What the verifiers may call, and how answers are compared."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.config import ConfigError, secret_from_environment
from console.models import owning_migration
from verifiers.models.outcomes import Severity


class System(models.Model):
    """An HTTP system the read verifier replays against. Outgoing calls go only to these."""

    class Role(models.TextChoices):
        CANDIDATE = "candidate", "Candidate (new system)"
        LEGACY_SECONDARY = "legacy_secondary", "Second legacy endpoint (noise detection)"

    migration = owning_migration("systems")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CANDIDATE)
    base_url = models.URLField(help_text="e.g. http://candidate-ledger.internal:8080")
    timeout_ms = models.PositiveIntegerField(default=2000)
    max_concurrency = models.PositiveIntegerField(default=64, help_text="Requests in flight at once.")
    headers_to_add = models.JSONField(default=dict, blank=True, help_text='e.g. {"X-Shadow": "1"}')
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["migration", "name"], name="system_migration_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"

    def clean(self) -> None:
        if not isinstance(self.headers_to_add, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers_to_add.items()
        ):
            raise ValidationError({"headers_to_add": "Must be an object of header name to string value."})


class Route(models.Model):
    """A route template of the read API with its sampling and comparison rules."""

    migration = owning_migration("routes")
    method = models.CharField(max_length=10, default="GET")
    template = models.CharField(max_length=300, help_text="e.g. /accounts/{id}/balance")
    enabled = models.BooleanField(default=True)
    sampling_ratio = models.FloatField(default=1.0, help_text="Share of samples verified, 0 to 1.")
    active_from = models.TimeField(null=True, blank=True, help_text="Verify only from this time (console time zone).")
    active_until = models.TimeField(null=True, blank=True)
    rules = models.JSONField(default=dict, blank=True, help_text="Comparison rules (see README).")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    mismatch_rate_alert = models.FloatField(
        null=True, blank=True, help_text="Alert when the mismatch rate over 5 minutes exceeds this share."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["migration", "method", "template"], name="route_migration_method_template")
        ]
        ordering = ["template", "method"]

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    def clean(self) -> None:
        if not 0.0 <= self.sampling_ratio <= 1.0:
            raise ValidationError({"sampling_ratio": "Must be between 0 and 1."})
        if not self.template.startswith("/"):
            raise ValidationError({"template": "Must start with '/'."})


class DsnMixin(models.Model):
    """A PostgreSQL or MySQL/MariaDB DSN without secrets, or the name of an environment variable
    that holds one (which may carry a password)."""

    dsn = models.CharField(
        max_length=500, blank=True,
        help_text="postgresql://user@host:5432/db or mysql://user@host:3306/db (no password: use "
        "dsn_env_var, or PGPASSFILE for PostgreSQL)",
    )
    dsn_env_var = models.CharField(max_length=100, blank=True, help_text="Environment variable holding the DSN.")
    # URL schemes this kind of database may use, and what to say about the others.
    DSN_SCHEMES: tuple[str, ...] = ("postgres", "postgresql", "mysql", "mariadb")
    DSN_SCHEME_HELP = "Must be a postgresql:// or mysql:// URL."

    class Meta:
        abstract = True

    def resolved_dsn(self) -> str:
        if self.dsn_env_var:
            try:
                return secret_from_environment(self.dsn_env_var)
            except ConfigError as error:
                raise ValidationError(str(error)) from None
        return self.dsn

    def clean(self) -> None:
        from urllib.parse import urlsplit

        if not self.dsn and not self.dsn_env_var:
            raise ValidationError("Give a DSN or the environment variable that holds it.")
        if self.dsn:
            parts = urlsplit(self.dsn)
            if parts.scheme not in self.DSN_SCHEMES:
                raise ValidationError({"dsn": self.DSN_SCHEME_HELP})
            if parts.password:
                raise ValidationError({"dsn": "No passwords in the database: use dsn_env_var."})


class VerifiedDatabase(DsnMixin):
    """The legacy database the write verifier reads (read-only) after each legacy commit:
    PostgreSQL, or MySQL 8 / MariaDB 10.11+ (``mysql://``, ``mariadb://``)."""

    migration = owning_migration("verified_databases")
    name = models.CharField(max_length=100)
    statement_timeout_ms = models.PositiveIntegerField(default=2000)
    commit_delay_ms = models.PositiveIntegerField(
        default=0, help_text="Wait this long after the commit notice before checking."
    )
    capture_ttl_s = models.PositiveIntegerField(
        default=300, help_text="A capture whose commit never comes becomes 'orphaned' after this."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["migration", "name"], name="verified_database_migration_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class WriteTableRule(models.Model):
    """Per-table overrides for the write verifier (keys, version column, columns not compared)."""

    migration = owning_migration("write_tables")
    table = models.CharField(max_length=200)
    key_columns = models.JSONField(default=list, blank=True, help_text="Overrides the introspected primary key.")
    version_column = models.CharField(max_length=100, blank=True, help_text="Row moved on after the commit -> stale.")
    excluded_columns = models.JSONField(default=list, blank=True, help_text="Values the candidate cannot know.")
    rules = models.JSONField(default=dict, blank=True, help_text="Comparison rules for the row values.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["migration", "table"], name="write_table_migration_unique")]

    def __str__(self) -> str:
        return self.table
