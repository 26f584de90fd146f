from django.apps import AppConfig


class VerifiersConfig(AppConfig):
    name = "verifiers"
    verbose_name = "Verifiers"

    def ready(self) -> None:
        from console.health import register_progress_source
        from verifiers import progress_sources

        register_progress_source("read", progress_sources.read_verifier_progress)
        register_progress_source("write", progress_sources.write_verifier_progress)
