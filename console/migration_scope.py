"""Which migrations a request looks at: `?migration=<slug>` among the user's viewable migrations.

No parameter means every migration the user may view. A slug the user may not view is refused
exactly like a slug that does not exist, so the answer never tells which migrations exist.
Pages get a 400 naming the parameter (console.views.bad_request); APIs turn it into their own 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from console.access import viewable_migrations
from console.models import Migration

PARAM = "migration"


class UnknownMigration(BadRequest):
    """The slug names no migration this user may view."""


@dataclass(frozen=True)
class MigrationScope:
    viewable: tuple[Migration, ...]  # by name: the picker's choices
    chosen: Migration | None  # None: all of `viewable`

    @property
    def migrations(self) -> tuple[Migration, ...]:
        return (self.chosen,) if self.chosen else self.viewable

    @property
    def ids(self) -> list[int]:
        return [migration.pk for migration in self.migrations]

    @property
    def slug(self) -> str:
        return self.chosen.slug if self.chosen else ""

    @property
    def query(self) -> str:
        """`?migration=<slug>` to append to a link, or "" for all viewable migrations."""
        return "?" + self.param if self.chosen else ""

    @property
    def param(self) -> str:
        """`migration=<slug>` to join to other parameters, or ""."""
        return urlencode({PARAM: self.chosen.slug}) if self.chosen else ""


def pick(raw_slug: str | None, viewable: Sequence[Migration]) -> Migration | None:
    """The viewable migration `raw_slug` names; None for none asked; UnknownMigration otherwise."""
    slug = (raw_slug or "").strip()
    if not slug:
        return None
    for migration in viewable:
        if migration.slug == slug:
            return migration
    raise UnknownMigration(f"Query parameter {PARAM!r}: no migration {slug[:60]!r} that you may view "
                           f"(leave it out to see all your migrations).")


def viewable(request: HttpRequest) -> tuple[Migration, ...]:
    """The migrations the request's user may view, by name (read once per request)."""
    cached = getattr(request, "_viewable_migrations", None)
    if cached is None:
        cached = tuple(viewable_migrations(getattr(request, "user", None)).order_by("name"))
        request._viewable_migrations = cached  # type: ignore[attr-defined]
    return cached


def migration_scope(request: HttpRequest) -> MigrationScope:
    """The request's scope, computed once per request (the picker in the navigation reuses it)."""
    cached = getattr(request, "_migration_scope", None)
    if cached is not None:
        return cached
    scope = MigrationScope(viewable=viewable(request), chosen=pick(request.GET.get(PARAM), viewable(request)))
    request._migration_scope = scope  # type: ignore[attr-defined]
    return scope


def api_migration_ids(request: HttpRequest) -> list[int]:
    """The API's form of migration_scope(request).ids: an unknown slug is a JSON 400 naming it."""
    try:
        return migration_scope(request).ids
    except UnknownMigration as error:
        raise ValidationError({PARAM: [str(error)]}) from None
