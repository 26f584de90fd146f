"""Admin of the mismatch groups and their samples, with reverify actions (read and write alike)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from verifiers.groups import tasks
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
class MismatchGroupAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "status", "severity", "count", "first_seen", "last_seen")
    list_filter = ("kind", "status", "severity")
    search_fields = ("title", "subject", "fingerprint")
    readonly_fields = ("kind", "fingerprint", "subject", "outcome", "differences", "first_seen", "last_seen",
                       "count", "stored_samples", "status_changed_at", "status_changed_by")
    inlines = [SampleInline]
    actions = ["reverify"]

    @admin.action(description="Reverify selected groups against the candidate now",
                  permissions=["reverify"])
    def reverify(self, request: HttpRequest, queryset: QuerySet[MismatchGroup]) -> None:
        ids = list(MismatchSample.objects.filter(group__in=queryset).values_list("pk", flat=True))
        count = _queue_reverify(request, ids)
        self.message_user(request, f"Reverification of {count} sample(s) queued.", messages.INFO)

    def has_reverify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verifiers.reverify_mismatchgroup")


@admin.register(MismatchSample)
class MismatchSampleAdmin(admin.ModelAdmin):
    list_display = ("sample_id", "group", "outcome", "captured_at", "reverify_outcome", "reverified_at")
    list_filter = ("outcome", "reverify_outcome", "group__kind")
    search_fields = ("sample_id",)
    readonly_fields = [f.name for f in MismatchSample._meta.fields]
    actions = ["reverify"]

    @admin.action(description="Reverify selected samples against the candidate now", permissions=["reverify"])
    def reverify(self, request: HttpRequest, queryset: QuerySet[MismatchSample]) -> None:
        count = _queue_reverify(request, list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Reverification of {count} sample(s) queued.", messages.INFO)

    def has_reverify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verifiers.reverify_mismatchgroup")
