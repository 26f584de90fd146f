"""Admin of the reconciliation: ledger sources (validated against the ledger, scheduled on save),
counterparts (manual entry and CSV upload) and runs (read-only, re-run as a new run)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from console.access import operable_migrations, require_in_migration
from console.admin_scope import MigrationScopedAdmin
from verifiers.models import Counterpart, LedgerSource, ReconciliationRun
from verifiers.reconcile import balances, services
from verifiers.reconcile.forms import CounterpartUploadForm, LedgerSourceForm

RERUN_PERMISSION = "verifiers.rerun_reconciliation"


@admin.register(LedgerSource)
class LedgerSourceAdmin(MigrationScopedAdmin):
    form = LedgerSourceForm
    list_display = ("name", "cutoff_time", "time_zone", "workers", "enabled", "schedule")
    actions = ["run_now"]
    fieldsets = (
        (None, {"fields": ("migration", "name", "dsn", "dsn_env_var", "enabled")}),
        ("Accounts", {"fields": ("accounts_table", "account_key", "balance_column", "currency_column",
                                 "currency_code", "opening_balance_column", "version_column")}),
        ("Entries", {"fields": ("entries_table", "entry_account_column", "entry_amount_column",
                                "entry_time_column", "business_time_zone")}),
        ("Schedule", {"fields": ("cutoff_time", "time_zone", "workers", "wait_timeout_s")}),
        ("Counterpart from a table", {"fields": ("counterpart_table", "counterpart_date_column")}),
    )

    def save_model(self, request: HttpRequest, obj: LedgerSource, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.sync_schedule(source=obj)

    def delete_model(self, request: HttpRequest, obj: LedgerSource) -> None:
        services.delete_ledger_source(source=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LedgerSource]) -> None:
        for source in queryset:
            services.delete_ledger_source(source=source)

    @admin.action(description="Run now for the latest cut-off", permissions=["rerun"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[LedgerSource]) -> None:
        for source in queryset.filter(migration__in=operable_migrations(request.user, RERUN_PERMISSION)):
            try:
                run = services.start_run(source=source, triggered_by=request.user.get_username())
            except balances.CutoffError as exc:
                self.message_user(request, f"{source}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{source}: run {run.pk} started for cut-off {run.cutoff:%Y-%m-%d %H:%M %Z}.")

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RERUN_PERMISSION)


@admin.register(Counterpart)
class CounterpartAdmin(MigrationScopedAdmin):
    migration_path = "source__migration"
    list_display = ("source", "cutoff_date", "currency", "total", "origin", "entered_by", "entered_at")
    list_filter = ("source", "origin")
    date_hierarchy = "cutoff_date"
    readonly_fields = ("entered_by", "entered_at")
    change_list_template = "verifiers/reconcile/admin_counterpart_changelist.html"

    def save_model(self, request: HttpRequest, obj: Counterpart, form, change: bool) -> None:
        obj.currency = obj.currency.upper()
        obj.entered_by = request.user.get_username()
        if not change:
            obj.origin = obj.origin or Counterpart.Origin.MANUAL
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="verifiers_counterpart_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = CounterpartUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            require_in_migration(request.user, form.cleaned_data["source"].migration_id, "verifiers.add_counterpart")
            rows = services.save_counterpart(
                source=form.cleaned_data["source"], cutoff_date=form.cleaned_data["cutoff_date"],
                totals=form.totals, origin=Counterpart.Origin.CSV, entered_by=request.user.get_username(),
            )
            self.message_user(request, f"Stored {len(rows)} counterpart total(s).")
            return HttpResponseRedirect(reverse("admin:verifiers_counterpart_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload counterpart CSV",
                   "opts": self.model._meta}
        return render(request, "verifiers/reconcile/admin_counterpart_upload.html", context)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(MigrationScopedAdmin):
    migration_path = "source__migration"
    list_display = ("id", "source", "cutoff", "status", "accounts_checked", "accounts_with_differences",
                    "duration_ms", "triggered_by", "started_at")
    list_filter = ("status", "source")
    actions = ["rerun"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Re-run (a new run for the same cut-off)", permissions=["rerun"])
    def rerun(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        operable = operable_migrations(request.user, RERUN_PERMISSION)
        for run in queryset.filter(source__migration__in=operable).select_related("source"):
            new_run = services.rerun(run=run, triggered_by=request.user.get_username())
            self.message_user(request, f"Run {new_run.pk} started (re-run of {run.pk}).")

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RERUN_PERMISSION)
