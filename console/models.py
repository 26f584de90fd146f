"""Console-wide models: the migrations a console watches, and API tokens for machine clients."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX_LENGTH = 8


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Migration(models.Model):
    """One service's move from its legacy system to its new one, as the programme names it
    (e.g. "Won deposits", "FX deposits").

    It owns its systems, routes, write tables, verified databases, ledger sources and alert
    rules; every verdict, stored sample and reconciliation run belongs to exactly one. The slug is
    the stable key of URLs (`?migration=fx-deposits`), configuration files and ingest.
    """

    slug = models.SlugField(max_length=50, unique=True, help_text="Stable key: URLs, config files, ingest.")
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


DEFAULT_MIGRATION_SLUG = "default"


def sole_migration_pk() -> int | None:
    """Default owner of a new row: the console's only migration (created on first use).

    With several migrations there is no default (None): the row must name its migration, and the
    database refuses it otherwise, so nothing is ever filed under a guessed migration.
    """
    pks = list(Migration.objects.values_list("pk", flat=True)[:2])
    if len(pks) == 1:
        return pks[0]
    if pks:
        return None
    return Migration.objects.create(slug=DEFAULT_MIGRATION_SLUG, name="Default migration").pk


def owning_migration(related_name: str) -> models.ForeignKey[Migration | None, Migration]:
    """The `migration` field of a row one migration owns: deleted with it; by default the only one."""
    return models.ForeignKey(
        "console.Migration", on_delete=models.CASCADE, default=sole_migration_pk, related_name=related_name
    )


def counter() -> models.PositiveBigIntegerField[float | int | str | models.expressions.Combinable, int]:
    """A count column: starts at 0, never negative, 64 bits (rows that add up events)."""
    return models.PositiveBigIntegerField(default=0)


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked=False).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A token a gateway, agent or script uses instead of a login.

    Only the SHA-256 of the token is stored (as NetBox does); the raw value is shown once.
    """

    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'gateway-prod-1'.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)
    migration = models.ForeignKey(
        Migration, on_delete=models.CASCADE, null=True, blank=True, related_name="api_tokens",
        help_text="Limits the token to this migration's ingest; empty: any migration (named by the client).",
    )

    objects = ApiTokenQuerySet.as_manager()
    # Not a column: set when console.api_auth loads the token (the user's own or group permissions
    # hold console.ingest); console.access.can_ingest reads it.
    grants_ingest: bool = False

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, *, user, name: str, valid_days: int | None = 365, migration: Migration | None = None
    ) -> tuple["ApiToken", str]:
        raw = secrets.token_urlsafe(32)
        while raw.startswith("-"):  # one in 64 would read as an option: `numa_agent --token -x…` fails
            raw = secrets.token_urlsafe(32)
        expires = timezone.now() + timedelta(days=valid_days) if valid_days else None
        token = cls.objects.create(
            user=user, name=name, prefix=raw[:TOKEN_PREFIX_LENGTH], digest=hash_token(raw), expires_at=expires,
            migration=migration,
        )
        return token, raw


class MigrationRole(models.Model):
    """A user's role for one migration, or for all (migration empty).

    The global groups (console.roles) keep meaning "for all migrations"; a role here adds a
    viewer, operator or admin role scoped to one migration (console.access applies it).
    """

    class Role(models.TextChoices):
        VIEWER = "viewer"
        OPERATOR = "operator"
        ADMIN = "admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="migration_roles")
    migration = models.ForeignKey(
        Migration, null=True, blank=True, on_delete=models.CASCADE, related_name="roles",
        help_text="Empty: every migration. Saving an admin role here also gives the user staff status (the admin site's door).",
    )
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "migration"], name="migration_role_user_migration",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.migration or 'every migration'}"


class ConsoleAccess(models.Model):
    """Not a table: holds the console-wide permissions that belong to no single model.

    `view_console` opens pages, read APIs and stored samples (Viewers and up); `ingest` lets a
    machine client post samples, captures, commit notes and pinning events and nothing else.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_console", "Can view the console's pages, read APIs and stored samples"),
            ("ingest", "Can post samples, write captures, commit notes and NUMA data"),
            ("configure_migration", "Can configure a migration's systems, routes, tables, sources and alerts"),
        ]
