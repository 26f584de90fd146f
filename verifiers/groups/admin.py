"""Admin of the mismatch groups and their samples, with reverify actions (read and write alike)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from console.access import operable_migrations
from console.admin_scope import MigrationScopedAdmin
from console.roles import REVERIFY, TRIAGE
from verifiers.groups import services, tasks
from verifiers.models import MismatchGroup, MismatchSample


def _queue_reverify(request: HttpRequest, sample_ids: list[int]) -> int:
    if sample_ids:
        tasks.reverify_samples.delay(sample_ids)
    return len(sample_ids)


class SampleInline(admin.TabularInline):
    model = MismatchSample
    fields = ("sample_id", "captured_at", "outcome", "reverify_outcome", "reverified_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(MismatchGroup)
class MismatchGroupAdmin(MigrationScopedAdmin):
    list_display = ("title", "kind", "status", "severity", "count", "first_seen", "last_seen")
    list_filter = ("kind", "status", "severity")
    search_fields = ("title", "subject", "fingerprint")
    # Status changes only through the triage service (actions below), so who and when are recorded
    # exactly as from the pages and the API.
    readonly_fields = ("migration", "kind", "fingerprint", "subject", "outcome", "differences", "first_seen", "last_seen",
                       "count", "stored_samples", "status", "status_changed_at", "status_changed_by")
    inlines = [SampleInline]
    actions = ["reverify", "acknowledge", "ignore", "reopen"]

    def _change_status(self, request: HttpRequest, queryset: QuerySet[MismatchGroup], action: str) -> None:
        group_ids = list(queryset.filter(migration__in=operable_migrations(request.user, TRIAGE))
                         .values_list("pk", flat=True))
        for group_id in group_ids:
            services.change_group_status(group_id=group_id, action=action, user_name=request.user.get_username())
        status = services.STATUS_ACTIONS[action].label.lower()
        self.message_user(request, f"{len(group_ids)} group(s) now {status}.", messages.INFO)

    @admin.action(description="Acknowledge selected groups", permissions=["triage"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[MismatchGroup]) -> None:
        self._change_status(request, queryset, "acknowledge")

    @admin.action(description="Ignore selected groups", permissions=["triage"])
    def ignore(self, request: HttpRequest, queryset: QuerySet[MismatchGroup]) -> None:
        self._change_status(request, queryset, "ignore")

    @admin.action(description="Reopen selected groups", permissions=["triage"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[MismatchGroup]) -> None:
        self._change_status(request, queryset, "reopen")

    def has_triage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verifiers.triage_mismatchgroup")

    @admin.action(description="Reverify selected groups against the candidate now",
                  permissions=["reverify"])
    def reverify(self, request: HttpRequest, queryset: QuerySet[MismatchGroup]) -> None:
        operable = queryset.filter(migration__in=operable_migrations(request.user, REVERIFY))
        ids = list(MismatchSample.objects.filter(group__in=operable).values_list("pk", flat=True))
        count = _queue_reverify(request, ids)
        self.message_user(request, f"Reverification of {count} sample(s) queued.", messages.INFO)

    def has_reverify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verifiers.reverify_mismatchgroup")


@admin.register(MismatchSample)
class MismatchSampleAdmin(MigrationScopedAdmin):
    migration_path = "group__migration"
    list_display = ("sample_id", "group", "outcome", "captured_at", "reverify_outcome", "reverified_at")
    list_filter = ("outcome", "reverify_outcome", "group__kind")
    search_fields = ("sample_id",)
    readonly_fields = [f.name for f in MismatchSample._meta.fields]
    actions = ["reverify"]

    @admin.action(description="Reverify selected samples against the candidate now", permissions=["reverify"])
    def reverify(self, request: HttpRequest, queryset: QuerySet[MismatchSample]) -> None:
        operable = queryset.filter(group__migration__in=operable_migrations(request.user, REVERIFY))
        count = _queue_reverify(request, list(operable.values_list("pk", flat=True)))
        self.message_user(request, f"Reverification of {count} sample(s) queued.", messages.INFO)

    def has_reverify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verifiers.reverify_mismatchgroup")
