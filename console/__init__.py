"""The migration health console: Django project, Celery app, dashboard, alerts, API auth."""

# Celery's app must be loaded when Django starts so that @shared_task binds to it.
from console.celery import app as celery_app

__all__ = ("celery_app",)
