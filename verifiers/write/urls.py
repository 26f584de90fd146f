"""URLs of the write verifier: its page and the capture/commit API (token auth, outside the login wall)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from verifiers.write import api, views

urlpatterns = [
    path("write/", views.write_page, name="write"),
    path("api/v1/write-captures", login_not_required(api.WriteCaptureView.as_view()), name="api-write-captures"),
    path("api/v1/write-commits", login_not_required(api.WriteCommitView.as_view()), name="api-write-commits"),
]
