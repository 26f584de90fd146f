"""One mixin scopes every admin of a migration's objects to the migrations the user may touch.

A global admin (group, direct permission, superuser) sees everything, programme-wide rows (no
migration) included; one migration's admin sees, adds and changes only that migration's rows, and
every foreign key to a migration-owned model (the migration itself included) offers only those.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from console.access import holds, migrations_permitting, permitted_everywhere
from console.models import Migration


class MigrationScopedAdmin(admin.ModelAdmin):
    # The lookup from a row to its migration (a counterpart's is its source's).
    migration_path = "migration"

    def _permission(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.opts.model_name}"

    def _migration_id(self, obj: models.Model) -> int | None:
        target: Any = obj
        for step in self.migration_path.split("__"):
            target = getattr(target, step, None)
        return target.pk if isinstance(target, Migration) else None

    def _may(self, request: HttpRequest, action: str, obj: models.Model | None) -> bool:
        if obj is None:
            permission = self._permission(action)
            return (permitted_everywhere(request.user, permission)
                    or migrations_permitting(request.user, permission).exists())
        return holds(request.user, self._permission(action), self._migration_id(obj))

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = tuple(super().get_list_display(request))
        return shown if self.migration_path in shown else (*shown, self.migration_path)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        view, change = self._permission("view"), self._permission("change")
        if permitted_everywhere(request.user, view) or permitted_everywhere(request.user, change):
            return queryset
        visible = migrations_permitting(request.user, view) | migrations_permitting(request.user, change)
        return queryset.filter(**{f"{self.migration_path}__in": visible})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and (
            self._may(request, "view", obj) or self._may(request, "change", obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may(request, "delete", obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._may(request, "add", None)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related, change = db_field.related_model, self._permission("change")
        if not permitted_everywhere(request.user, change) and (related is Migration or _owned_by_migration(related)):
            allowed = migrations_permitting(request.user, change)
            queryset = kwargs.get("queryset", related._default_manager.all())
            kwargs["queryset"] = (queryset.filter(pk__in=allowed) if related is Migration
                                  else queryset.filter(migration__in=allowed))
            kwargs["required"] = True  # no migration would mean every migration: not theirs to set
        elif related is Migration and not db_field.null and db_field.has_default():
            kwargs["required"] = False  # left out: the model's default, the console's only migration
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The form offers only the user's migrations; this refuses a row filed elsewhere by any other path.
        if not holds(request.user, self._permission("change" if change else "add"), self._migration_id(obj)):
            raise PermissionDenied("You may not configure that migration.")
        super().save_model(request, obj, form, change)


def _owned_by_migration(model: type[models.Model]) -> bool:
    return any(field.name == "migration" and field.related_model is Migration for field in model._meta.fields)
