from django.urls import path

from verifiers import placeholder_views as views

urlpatterns = [path("reconciliation/", views.reconciliation_page, name="reconciliation")]
