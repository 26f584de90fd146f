from django.contrib.auth.decorators import login_not_required
from django.urls import path

from verifiers.read import api, views

urlpatterns = [
    path("read/", views.read_page, name="read"),
    path("read/noise/<int:suggestion_id>/accept", views.accept_noise, name="read-noise-accept"),
    path("api/v1/read-samples", login_not_required(api.ReadSamplesView.as_view()), name="api-read-samples"),
]
