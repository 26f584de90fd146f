from django.apps import AppConfig


class NumaConfig(AppConfig):
    name = "numa"
    verbose_name = "NUMA"

    def ready(self) -> None:
        # What a configuration file holds of NUMA (manage.py export_config / apply_config).
        from numa import config_sections

        config_sections.register()
