"""The two human roles, as Django groups: operators watch and triage, admins configure.

Machine clients use API tokens (console.models.ApiToken) of a user in the 'Machine clients' group.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

OPERATORS = "Operators"
ADMINS = "Admins"
MACHINE_CLIENTS = "Machine clients"

# Operators see everything and may triage and reverify; they change no configuration.
OPERATOR_PERMISSIONS = [
    "verifiers.view_mismatchgroup",
    "verifiers.view_mismatchsample",
    "verifiers.triage_mismatchgroup",
    "verifiers.reverify_mismatchgroup",
    "verifiers.view_reconciliationrun",
    "verifiers.rerun_reconciliation",
    "verifiers.view_accountdifference",
]
# Admins configure targets, rules, ledger sources, schedules, recipients and pinning events.
ADMIN_APPS = ("verifiers", "numa", "console", "alerts", "django_celery_beat")


def ensure_roles() -> dict[str, Group]:
    """Create or refresh the groups and their permissions (idempotent; run after migrate)."""
    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    admins, _ = Group.objects.get_or_create(name=ADMINS)
    machines, _ = Group.objects.get_or_create(name=MACHINE_CLIENTS)
    operators.permissions.set(_permissions(OPERATOR_PERMISSIONS) | _app_view_permissions())
    admins.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    return {OPERATORS: operators, ADMINS: admins, MACHINE_CLIENTS: machines}


def _permissions(dotted: list[str]):
    result = Permission.objects.none()
    for name in dotted:
        app_label, codename = name.split(".")
        result |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return result


def _app_view_permissions():
    return Permission.objects.filter(content_type__app_label__in=("verifiers", "numa"), codename__startswith="view_")
