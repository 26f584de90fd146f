"""Pages of the reconciliation: overview with history and forms, one run, its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from console.access import holds, require_in_migration
from console.migration_scope import migration_scope
from verifiers.models import Counterpart, ReconciliationRun
from verifiers.reconcile import balances, selectors, services
from verifiers.reconcile.forms import CounterpartUploadForm, RunNowForm

RERUN_PERMISSION = "verifiers.rerun_reconciliation"
UPLOAD_PERMISSION = "verifiers.add_counterpart"
HISTORY_PAGE_SIZE = 25
DIFFERENCES_PAGE_SIZE = 50
COUNTERPARTS_SHOWN = 30
REFRESH_SECONDS = 5


def reconciliation_page(
    request: HttpRequest, run_form: RunNowForm | None = None, upload_form: CounterpartUploadForm | None = None,
) -> HttpResponse:
    ids = migration_scope(request).ids
    counterparts = selectors.counterparts_of(migration_ids=ids)
    context = {
        "active": "reconciliation",
        "sources": selectors.last_runs_by_source(migration_ids=ids),
        "history": Paginator(selectors.run_history(migration_ids=ids), HISTORY_PAGE_SIZE).get_page(
            request.GET.get("page")),
        "counterparts": counterparts[:COUNTERPARTS_SHOWN],
        "counterparts_total": counterparts.count,  # counted only where the page shows the card
        "run_form": run_form or RunNowForm(),
        "upload_form": upload_form or CounterpartUploadForm(),
        "can_run": request.user.has_perm(RERUN_PERMISSION),
        "can_upload": request.user.has_perm(UPLOAD_PERMISSION),
        "refresh_seconds": REFRESH_SECONDS,
    }
    if request.GET.get("partial") == "status":
        return render(request, "verifiers/reconcile/_status.html", context)
    return render(request, "verifiers/reconcile/page.html", context)


@require_POST
def run_now(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(RERUN_PERMISSION):
        return HttpResponseForbidden("You may not start reconciliation runs.")
    form = RunNowForm(request.POST)
    if not form.is_valid():
        return reconciliation_page(request, run_form=form)
    require_in_migration(request.user, form.cleaned_data["source"].migration_id, RERUN_PERMISSION)
    try:
        run = services.start_run(
            source=form.cleaned_data["source"], cutoff=form.cleaned_data["cutoff_instant"],
            triggered_by=request.user.get_username(),
        )
    except balances.CutoffError as exc:
        form.add_error("cutoff", str(exc))
        return reconciliation_page(request, run_form=form)
    messages.success(request, f"Run {run.pk} started for cut-off {run.cutoff.isoformat()}.")
    return redirect("reconciliation-run", run_id=run.pk)


@require_POST
def upload_counterpart(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(UPLOAD_PERMISSION):
        return HttpResponseForbidden("You may not upload counterparts.")
    form = CounterpartUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return reconciliation_page(request, upload_form=form)
    require_in_migration(request.user, form.cleaned_data["source"].migration_id, UPLOAD_PERMISSION)
    rows = services.save_counterpart(
        source=form.cleaned_data["source"], cutoff_date=form.cleaned_data["cutoff_date"], totals=form.totals,
        origin=Counterpart.Origin.CSV, entered_by=request.user.get_username(),
    )
    messages.success(request, f"Stored {len(rows)} counterpart total(s) for {form.cleaned_data['cutoff_date']}.")
    return redirect("reconciliation")


def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(ReconciliationRun.objects.select_related("source"), pk=run_id)
    require_in_migration(request.user, run.source.migration_id)
    context = {
        "active": "reconciliation",
        "run": run,
        "totals": selectors.totals_rows(run),
        "differences": Paginator(selectors.differences_of(run), DIFFERENCES_PAGE_SIZE).get_page(
            request.GET.get("page")),
        "earlier_runs": selectors.run_history(run.source).filter(cutoff=run.cutoff).exclude(pk=run.pk)[:10],
        "can_run": holds(request.user, RERUN_PERMISSION, run.source.migration_id),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render(request, "verifiers/reconcile/run.html", context)


@require_POST
def rerun(request: HttpRequest, run_id: int) -> HttpResponse:
    if not request.user.has_perm(RERUN_PERMISSION):
        return HttpResponseForbidden("You may not start reconciliation runs.")
    run = get_object_or_404(ReconciliationRun.objects.select_related("source"), pk=run_id)
    require_in_migration(request.user, run.source.migration_id, RERUN_PERMISSION)
    new_run = services.rerun(run=run, triggered_by=request.user.get_username())
    messages.success(request, f"Run {new_run.pk} started (re-run of {run.pk}).")
    return redirect("reconciliation-run", run_id=new_run.pk)


class _Echo:
    def write(self, value: str) -> str:
        return value


def differences_csv(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = get_object_or_404(ReconciliationRun.objects.select_related("source"), pk=run_id)
    require_in_migration(request.user, run.source.migration_id)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(["account_key", "currency", "balance_at_cutoff", "journal", "difference"])
        for diff in selectors.differences_of(run).iterator(chunk_size=2000):
            yield writer.writerow([diff.account_key, diff.currency, diff.balance_at_cutoff, diff.journal,
                                   diff.difference])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{run.pk}-differences.csv"'
    return response
