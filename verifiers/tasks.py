"""Celery discovers `verifiers.tasks`; the tasks live with their part of the app."""

from importlib import import_module

for _part in ("read", "write", "reconcile"):
    try:
        import_module(f"verifiers.{_part}.tasks")
    except ModuleNotFoundError as error:
        if error.name != f"verifiers.{_part}.tasks":
            raise
