"""Who may do what: one rule per kind of view, applied everywhere.

- pages and read APIs: a viewer role or more (`console.view_console`);
- ingest endpoints: the `console.ingest` permission (machine clients and admins), nothing else;
- actions (triage, reverify, rerun, configure) keep their own model permissions on top.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import BasePermission

from console.models import Migration
from console.roles import INGEST, VIEW_CONSOLE

NO_ROLE_MESSAGE = "Your account has no role in this console yet; ask an admin to make you a Viewer."


def can_view(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(VIEW_CONSOLE))


def viewable_migrations(user: User | AnonymousUser | None) -> QuerySet[Migration]:
    """The migrations whose pages, verdicts and stored samples `user` may see.

    Every page, selector and API filters by this one function (the per-migration roles hook in here).
    """
    if not can_view(user):
        return Migration.objects.none()
    return Migration.objects.all()


def can_ingest(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(INGEST))


class CanView(BasePermission):
    """DRF: read APIs need a viewer role or more; an ingest token reads nothing."""

    message = "This API needs a Viewer, Operator or Admin role; ingest tokens may only ingest."

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_view(request.user)


class CanIngest(BasePermission):
    """DRF: the one rule of every ingest endpoint."""

    message = "Posting here needs the ingest permission (a Machine clients token or an admin)."

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_ingest(request.user)


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
