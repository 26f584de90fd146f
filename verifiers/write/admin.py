"""Admin of the write verifier: the verified (legacy) database and per-table overrides."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from console.admin_scope import MigrationScopedAdmin
from verifiers.models import VerifiedDatabase, WriteTableRule
from verifiers.read.compare import RulesError
from verifiers.write.checker import CheckerError, compile_write_rules
from verifiers.write.introspect import TableOverrideError, override_from_dict
from verifiers.write.targets import forget_targets, target_for


@admin.register(VerifiedDatabase)
class VerifiedDatabaseAdmin(MigrationScopedAdmin):
    list_display = ("name", "enabled", "statement_timeout_ms", "commit_delay_ms", "capture_ttl_s")
    list_filter = ("enabled",)
    actions = ["check_metadata"]

    @admin.action(description="Connect read-only and read table metadata now")
    def check_metadata(self, request, queryset):
        forget_targets()
        for database in queryset:
            try:
                target = target_for(database, max_age_s=0)
            except CheckerError as error:
                self.message_user(request, f"{database.name}: {error}", messages.ERROR)
                continue
            tables = sorted({name for name in target.schema if "." not in name} or set(target.schema))
            self.message_user(request, f"{database.name}: {len(tables)} tables with keys: {', '.join(tables)[:500]}")
            for table, problem in target.rule_problems.items():
                self.message_user(request, f"{database.name}: rule for {table}: {problem}", messages.WARNING)


class WriteTableRuleForm(forms.ModelForm):
    class Meta:
        model = WriteTableRule
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        try:
            override_from_dict(cleaned.get("table") or "", cleaned.get("key_columns") or [],
                               cleaned.get("version_column") or "", cleaned.get("excluded_columns") or [])
        except TableOverrideError as error:
            raise forms.ValidationError(str(error)) from None
        try:
            compile_write_rules(cleaned.get("rules") or {})
        except RulesError as error:
            self.add_error("rules", str(error))
        return cleaned


@admin.register(WriteTableRule)
class WriteTableRuleAdmin(MigrationScopedAdmin):
    form = WriteTableRuleForm
    list_display = ("table", "key_columns", "version_column", "excluded_columns")
    search_fields = ("table",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_targets()  # this process converts with the new rule at once; others within a minute
