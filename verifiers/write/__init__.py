"""The write side of the verifiers app (services, tasks, API, views, admin)."""
