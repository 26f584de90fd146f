from django.apps import AppConfig


class NumaConfig(AppConfig):
    name = "numa"
    verbose_name = "NUMA"
