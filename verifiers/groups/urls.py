"""URLs of the mismatch group pages and API (stable: alert e-mails and API clients use them)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from verifiers.groups import api, views

urlpatterns = [
    path("groups/", views.group_list, name="group-list"),
    path("groups/<int:group_id>/", views.group_detail, name="group-detail"),
    path("groups/<int:group_id>/reverify", views.group_reverify, name="group-reverify"),
    path("groups/<int:group_id>/status", views.group_status, name="group-status"),
    path("api/v1/mismatch-groups", login_not_required(api.MismatchGroupListView.as_view()),
         name="api-mismatch-groups"),
    path("api/v1/mismatch-groups/<int:group_id>", login_not_required(api.MismatchGroupDetailView.as_view()),
         name="api-mismatch-group"),
    path("api/v1/mismatch-groups/<int:group_id>/reverify",
         login_not_required(api.MismatchGroupReverifyView.as_view()), name="api-mismatch-group-reverify"),
    path("api/v1/mismatch-groups/<int:group_id>/status",
         login_not_required(api.MismatchGroupStatusView.as_view()), name="api-mismatch-group-status"),
]
