"""Admin of the read verifier: systems, routes with rules, noise suggestions, and the shared
mismatch groups/samples with their reverify actions (read and write groups alike)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from verifiers.models import MismatchGroup, MismatchSample, NoiseSuggestion, Route, System
from verifiers.read import services
from verifiers.read.compare import RulesError, rules_from_dict


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "base_url", "timeout_ms", "max_concurrency", "enabled")
    list_filter = ("role", "enabled")
    # Services inside the bank's network are often plain http; a URL typed without a scheme
    # means http (and Django 6's change of that default must not change what admins get).
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ("method", "template", "enabled", "sampling_ratio", "active_from", "active_until", "severity")
    list_filter = ("enabled", "severity", "method")
    list_editable = ("enabled", "sampling_ratio")

    def save_model(self, request, obj: Route, form, change) -> None:
        try:
            rules_from_dict(obj.rules or {})
        except RulesError as error:
            raise ValidationError(str(error)) from None
        super().save_model(request, obj, form, change)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        def clean_rules(self_form):
            rules = self_form.cleaned_data.get("rules") or {}
            try:
                rules_from_dict(rules)
            except RulesError as error:
                raise ValidationError(str(error)) from None
            return rules

        form.clean_rules = clean_rules
        return form


@admin.register(NoiseSuggestion)
class NoiseSuggestionAdmin(admin.ModelAdmin):
    list_display = ("subject", "pattern", "count", "status", "last_seen")
    list_filter = ("status",)
    actions = ["accept"]

    @admin.action(description="Accept as ignore rule of the route")
    def accept(self, request: HttpRequest, queryset: QuerySet[NoiseSuggestion]) -> None:
        for suggestion in queryset:
            services.accept_noise_suggestion(suggestion_id=suggestion.pk)
        self.message_user(request, f"{queryset.count()} ignore rule(s) added.", messages.SUCCESS)


def _queue_reverify(request: HttpRequest, sample_ids: list[int]) -> int:
    from verifiers.read.tasks import reverify_samples

    if sample_ids:
        reverify_samples.delay(sample_ids)
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
