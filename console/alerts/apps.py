"""The alerts app: recipients, rules and the log of sent alert e-mails (label "alerts")."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "console.alerts"
    label = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What a configuration file holds of alerting (manage.py export_config / apply_config).
        from console.alerts import config_sections

        config_sections.register()
