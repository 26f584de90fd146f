from django.apps import AppConfig


class NumaConfig(AppConfig):
    name = "numa"
    verbose_name = "NUMA"

    def ready(self) -> None:
        # What a configuration file holds of NUMA (manage.py export_config / apply_config).
        from numa import config_sections

        config_sections.register()
        # numa.gain_runs queues numa.compute_gain by name (numa.tasks imports it): registering the
        # task in every process lets the name resolve to the task and its options.
        from numa import tasks  # noqa: F401
