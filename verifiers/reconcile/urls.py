"""URLs of the reconciliation pages (stable: alert e-mails link to them)."""

from django.urls import path

from verifiers.reconcile import views

urlpatterns = [
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
    path("reconciliation/run/", views.run_now, name="reconciliation-run-now"),
    path("reconciliation/counterparts/", views.upload_counterpart, name="reconciliation-counterpart-upload"),
    path("reconciliation/runs/<int:run_id>/", views.run_page, name="reconciliation-run"),
    path("reconciliation/runs/<int:run_id>/rerun/", views.rerun, name="reconciliation-rerun"),
    path("reconciliation/runs/<int:run_id>/differences.csv", views.differences_csv,
         name="reconciliation-run-differences-csv"),
]
