"""Admin of the read verifier: systems, routes with rules, noise suggestions (groups: verifiers.groups.admin)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from console.access import migrations_permitting
from console.admin_scope import MigrationScopedAdmin
from console.roles import CHANGE_RULES
from verifiers.models import NoiseSuggestion, Route, System
from verifiers.read import services
from verifiers.read.compare import RulesError, rules_from_dict


@admin.register(System)
class SystemAdmin(MigrationScopedAdmin):
    list_display = ("name", "role", "base_url", "timeout_ms", "max_concurrency", "enabled")
    list_filter = ("role", "enabled")
    # Services inside the bank's network are often plain http; a URL typed without a scheme
    # means http (and Django 6's change of that default must not change what admins get).
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}


@admin.register(Route)
class RouteAdmin(MigrationScopedAdmin):
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
class NoiseSuggestionAdmin(MigrationScopedAdmin):
    list_display = ("subject", "pattern", "count", "status", "last_seen")
    list_filter = ("status",)
    actions = ["accept"]

    # Accepting changes the route's rules: as on the read page, only who may change them, and only
    # in the suggestion's migration (viewing suggestions in the admin is not enough).
    @admin.action(description="Accept as ignore rule of the route", permissions=["accept"])
    def accept(self, request: HttpRequest, queryset: QuerySet[NoiseSuggestion]) -> None:
        permitted = queryset.filter(migration__in=migrations_permitting(request.user, CHANGE_RULES))
        for suggestion in permitted:
            services.accept_noise_suggestion(suggestion_id=suggestion.pk)
        self.message_user(request, f"{len(permitted)} ignore rule(s) added.", messages.SUCCESS)

    def has_accept_permission(self, request: HttpRequest) -> bool:
        return migrations_permitting(request.user, CHANGE_RULES).exists()
