from django.urls import path

from verifiers import placeholder_views as views

urlpatterns = [path("write/", views.write_page, name="write")]
