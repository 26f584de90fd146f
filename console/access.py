"""Who may do what: one rule per kind of view, applied everywhere.

- pages and read APIs: a viewer role or more (`console.view_console`);
- ingest endpoints: the `console.ingest` permission (machine clients and admins), nothing else;
- actions (triage, reverify, rerun, configure) keep their own model permissions on top;
- per migration: a permission held through a global group, a direct permission or superuser status
  holds for every migration; one granted by a MigrationRole holds for that role's migration only
  (`MigrationRoleBackend` lets `has_perm` answer yes, `migrations_permitting` and `holds` say where).
  Another migration's objects do not exist for a user (404); a viewable one they may not act on is 403.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from rest_framework.permissions import BasePermission

from console.models import Migration, MigrationRole
from console.roles import CONFIGURE_MIGRATION, INGEST, TRIAGE, VIEW_CONSOLE, role_permissions

_Owned = TypeVar("_Owned", bound=Model)

NO_ROLE_MESSAGE = "Your account has no role in this console yet; ask an admin to make you a Viewer."


def can_view(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(VIEW_CONSOLE))


def viewable_migrations(user: User | AnonymousUser | None) -> QuerySet[Migration]:
    """The migrations whose pages, verdicts and stored samples `user` may see.

    Every page, selector and API filters by this one function.
    """
    return migrations_permitting(user, VIEW_CONSOLE)


def operable_migrations(user: User | AnonymousUser | None, permission: str = TRIAGE) -> QuerySet[Migration]:
    """The migrations where `user` may triage (or reverify, rerun: pass that permission)."""
    return migrations_permitting(user, permission)


def administrable_migrations(user: User | AnonymousUser | None,
                             permission: str = CONFIGURE_MIGRATION) -> QuerySet[Migration]:
    """The migrations whose configuration `user` may change (the admin narrows to one model's permission)."""
    return migrations_permitting(user, permission)


def migrations_permitting(user: User | AnonymousUser | None, permission: str) -> QuerySet[Migration]:
    if permitted_everywhere(user, permission):
        return Migration.objects.all()
    if not _active(user):
        return Migration.objects.none()
    return Migration.objects.filter(pk__in=[pk for pk, granted in _migration_roles(user) if permission in granted])


def permitted_everywhere(user: User | AnonymousUser | None, permission: str) -> bool:
    """Whether `permission` holds for every migration (and for rows of none, e.g. programme-wide alert rules)."""
    if user is None or not _active(user):
        return False
    if _GLOBAL.has_perm(user, permission):  # groups, direct permissions, superusers
        return True
    return any(pk is None and permission in granted for pk, granted in _migration_roles(user))


def holds(user: User | AnonymousUser | None, permission: str, migration_id: int | None) -> bool:
    """Whether `user` holds `permission` in the migration `migration_id` (None: programme-wide rows)."""
    return permitted_everywhere(user, permission) or (migration_id is not None and any(
        pk == migration_id and permission in granted for pk, granted in _migration_roles(user)))


def require_in_migration(user: User | AnonymousUser | None, migration_id: int | None,
                         permission: str | None = None) -> None:
    """Http404 when `user` may not see the migration (its objects do not exist for them), then
    PermissionDenied when they may see it but not do `permission` there."""
    if not holds(user, VIEW_CONSOLE, migration_id):
        raise Http404("No such object in the migrations you may see.")
    if permission and not holds(user, permission, migration_id):
        raise PermissionDenied(f"Your role in this migration does not allow {permission.split('.')[-1]}.")


def object_to_act_on(user: User | AnonymousUser, model: type[_Owned] | QuerySet[_Owned], pk: object,
                     permission: str, refusal: str) -> _Owned:
    """The migration-owned object `pk` names, for an action that needs `permission` in its migration.

    PermissionDenied(refusal) when `user` holds it in no migration at all, then as
    `require_in_migration`: Http404 for an object they may not see, PermissionDenied for one in a
    migration where they may look but not act.
    """
    if not user.has_perm(permission):
        raise PermissionDenied(refusal)
    obj = get_object_or_404(model, pk=pk)
    require_in_migration(user, cast(Any, obj).migration_id, permission)
    return obj


_GLOBAL = ModelBackend()


def _active(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _migration_roles(user: Any) -> list[tuple[int | None, frozenset[str]]]:
    """The user's MigrationRoles as (migration pk or None for all, permissions granted); cached on
    the user object for the request, as Django caches its own permissions."""
    cached = getattr(user, "_migration_roles_cache", None)
    if cached is None:
        granted_by: dict[str, frozenset[str]] = {}
        cached = []
        for migration_id, role in MigrationRole.objects.filter(user=user).values_list("migration_id", "role"):
            if role not in granted_by:
                granted_by[role] = frozenset(
                    f"{app}.{codename}" for app, codename
                    in role_permissions(role).values_list("content_type__app_label", "codename"))
            cached.append((migration_id, granted_by[role]))
        user._migration_roles_cache = cached
    return cached


class MigrationRoleBackend(BaseBackend):
    """Authorisation only: `has_perm` says yes to what any of the user's MigrationRoles grants (so the
    pages, the API and the admin let them in); the views and admin then narrow to its migrations."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None or not _active(user_obj):
            return set()
        return set().union(*(granted for _, granted in _migration_roles(user_obj)))

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:  # the admin index lists the app
        return any(permission.startswith(f"{app_label}.") for permission in self.get_all_permissions(user_obj))


def can_ingest(user: User | AnonymousUser | None, token: Any = None) -> bool:
    """Whether `user` may post to the ingest endpoints; `token` is the API token it came with, if any.

    A token loaded by `console.api_auth.user_for_token` says whether the user's own or group
    permissions grant INGEST (``grants_ingest``), which is all ModelBackend would read for an
    active user: a yes there saves its two permission queries. Anything else asks every backend.
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    return bool(getattr(token, "grants_ingest", False)) or user.has_perm(INGEST)


class CanView(BasePermission):
    """DRF: read APIs need a viewer role or more; an ingest token reads nothing."""

    message = "This API needs a Viewer, Operator or Admin role; ingest tokens may only ingest."

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_view(request.user)


class CanIngest(BasePermission):
    """DRF: the one rule of every ingest endpoint."""

    message = "Posting here needs the ingest permission (a Machine clients token or an admin)."

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_ingest(request.user, request.auth)


def require_view(request: HttpRequest) -> None:
    if not can_view(request.user):
        raise PermissionDenied(NO_ROLE_MESSAGE)


class RequireViewerRoleMiddleware:
    """Every page behind login also needs a viewer role; login, logout, health, the admin (which has
    its own staff and model permissions) and the APIs (DRF applies CanView/CanIngest) are exempt."""

    EXEMPT_PREFIXES = ("/admin/", "/api/", "/static/")

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> HttpResponse | None:
        if not getattr(view_func, "login_required", True) or request.path.startswith(self.EXEMPT_PREFIXES):
            return None
        if getattr(view_func, "role_not_required", False) or not request.user.is_authenticated:
            return None  # anonymous users are LoginRequiredMiddleware's to redirect
        if can_view(request.user):
            return None
        return render(request, "console/no_role.html", {"message": NO_ROLE_MESSAGE}, status=403)


def role_not_required(view_func: Any) -> Any:
    """Marks a view open to any logged-in user (logout)."""
    view_func.role_not_required = True
    return view_func
