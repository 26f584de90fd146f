from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from console import views
from console.access import role_not_required
from console.dashboard import views as dashboard_views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/partials/<str:name>/", dashboard_views.overview_partial, name="overview-partial"),
    path("login/", views.RateLimitedLoginView.as_view(), name="login"),
    path("logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The schema is public: credentials are not even looked at, so a wrong token changes nothing.
    path("api/v1/schema", login_not_required(SpectacularAPIView.as_view(authentication_classes=[])),
         name="api-schema"),
    path("", include("verifiers.urls")),
    path("", include("numa.urls")),
]
handler400 = "console.views.bad_request"
