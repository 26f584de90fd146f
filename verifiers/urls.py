from django.urls import include, path

urlpatterns = [
    path("", include("verifiers.read.urls")),
    path("", include("verifiers.groups.urls")),
    path("", include("verifiers.write.urls")),
    path("", include("verifiers.reconcile.urls")),
]
