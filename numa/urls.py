"""URLs of the NUMA pages and its machine API (token auth, so outside the login middleware)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from numa import api, views

urlpatterns = [
    path("numa/", views.numa_page, name="numa"),
    path("numa/hosts/<str:hostname>/", views.host_page, name="numa-host"),
    path(
        "api/v1/numa/samples",
        login_not_required(api.SampleIngestView.as_view()),
        name="api-numa-samples",
    ),
    path(
        "api/v1/numa/pinning-events",
        login_not_required(api.PinningEventIngestView.as_view()),
        name="api-numa-pinning-events",
    ),
]
