from django.urls import path

from verifiers import views

urlpatterns = [
    path("read/", views.read_page, name="read"),
    path("write/", views.write_page, name="write"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
]
