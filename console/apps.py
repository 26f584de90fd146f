from django.apps import AppConfig
from django.conf import settings
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
        # What a configuration file holds of the console itself (manage.py export_config / apply_config).
        from console import config_sections

        config_sections.register()
        # The admin has autodiscovered every part by now (django.contrib.admin is listed first).
        if not settings.PRODUCTION:
            from console.demo.setup import admin as demo_admin

            demo_admin.register()
