"""The roles, as Django groups: viewers look, operators also triage, admins configure.

The groups hold for every migration. A user may instead (or also) hold a role for one migration
(console.models.MigrationRole): `role_permissions` says what each such role grants, and
console.access scopes it to that migration.

Machine clients use API tokens (console.models.ApiToken) of a user in the 'Machine clients' group;
they may only ingest. A user with no role sees nothing but the login and logout pages.
`console.access` holds the one rule each kind of view applies.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import QuerySet

VIEWERS = "Viewers"
OPERATORS = "Operators"
ADMINS = "Admins"
MACHINE_CLIENTS = "Machine clients"

VIEW_CONSOLE = "console.view_console"
INGEST = "console.ingest"
CONFIGURE_MIGRATION = "console.configure_migration"
TRIAGE = "verifiers.triage_mismatchgroup"
REVERIFY = "verifiers.reverify_mismatchgroup"
RERUN = "verifiers.rerun_reconciliation"
# Changing a route's comparison rules, as accepting a noise suggestion does: an admin's.
CHANGE_RULES = "verifiers.change_route"

# Viewers see every page, stored sample and read API; they change nothing.
VIEWER_PERMISSIONS = [VIEW_CONSOLE]
# Operators also triage and reverify; they change no configuration.
MIGRATION_OPERATOR_PERMISSIONS = [*VIEWER_PERMISSIONS, TRIAGE, REVERIFY, RERUN]
OPERATOR_PERMISSIONS = [*MIGRATION_OPERATOR_PERMISSIONS, "numa.compute_eventgain"]
MACHINE_PERMISSIONS = [INGEST]
# Admins configure targets, rules, ledger sources, schedules, recipients and pinning events.
ADMIN_APPS = ("verifiers", "numa", "console", "alerts", "django_celery_beat")
# What one migration's admin configures: the models a migration owns (NUMA hosts, tokens, users,
# schedules and the migrations themselves stay with the global Admins).
MIGRATION_CONFIG_MODELS = {
    "verifiers": ("system", "route", "verifieddatabase", "writetablerule", "ledgersource", "counterpart",
                  "noisesuggestion"),
    "alerts": ("alertrule", "alertrecipient"),
}


def ensure_roles() -> dict[str, Group]:
    """Create or refresh the groups and their permissions (idempotent; runs after every migrate)."""
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    admins, _ = Group.objects.get_or_create(name=ADMINS)
    machines, _ = Group.objects.get_or_create(name=MACHINE_CLIENTS)
    viewers.permissions.set(_permissions(VIEWER_PERMISSIONS) | _app_view_permissions())
    operators.permissions.set(_permissions(OPERATOR_PERMISSIONS) | _app_view_permissions())
    admins.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    machines.permissions.set(_permissions(MACHINE_PERMISSIONS))
    return {VIEWERS: viewers, OPERATORS: operators, ADMINS: admins, MACHINE_CLIENTS: machines}


def role_permissions(role: str) -> QuerySet[Permission]:
    """What a MigrationRole grants within its migration: a viewer looks, an operator also triages,
    reverifies and reruns, an admin also configures the migration's own objects (no ingest: that
    is a machine client's token)."""
    viewer = _permissions(VIEWER_PERMISSIONS) | _app_view_permissions()
    if role == "viewer":
        return viewer
    operator = viewer | _permissions(MIGRATION_OPERATOR_PERMISSIONS)
    if role == "operator":
        return operator
    if role == "admin":
        owned = Permission.objects.none()
        for app_label, models in MIGRATION_CONFIG_MODELS.items():
            owned |= Permission.objects.filter(content_type__app_label=app_label, content_type__model__in=models)
        return operator | _permissions([CONFIGURE_MIGRATION]) | owned
    raise ValueError(f"Unknown migration role {role!r}; expected viewer, operator or admin.")


def _permissions(dotted: list[str]) -> QuerySet[Permission]:
    result = Permission.objects.none()
    for name in dotted:
        app_label, codename = name.split(".")
        result |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return result


def _app_view_permissions() -> QuerySet[Permission]:
    return Permission.objects.filter(content_type__app_label__in=("verifiers", "numa"), codename__startswith="view_")
