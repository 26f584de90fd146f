from django.urls import path

from verifiers import placeholder_views as views

urlpatterns = [path("read/", views.read_page, name="read")]
