from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(**kwargs: object) -> None:
    from console.roles import ensure_roles  # models are ready only once migrate has run

    ensure_roles()


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        # Roles exist on every database that has been migrated, not only in the demo.
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="console.ensure_roles")
