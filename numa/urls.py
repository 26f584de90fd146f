from django.urls import path

from numa import views

urlpatterns = [
    path("numa/", views.numa_page, name="numa"),
]
