from django.apps import AppConfig


class VerifiersConfig(AppConfig):
    name = "verifiers"
    verbose_name = "Verifiers"
