from django.apps import AppConfig


class VerifiersConfig(AppConfig):
    name = "verifiers"
    verbose_name = "Verifiers"

    def ready(self) -> None:
        # Each part tells the mismatch groups how to check its stored samples again; the
        # groups package imports no part, so both parts can use it without an import cycle.
        from verifiers.groups.services import register_reverifier
        from verifiers.read.reverify import reverify_read_samples
        from verifiers.write.services import reverify_write_samples

        register_reverifier("read", reverify_read_samples, resolves_groups=True)
        register_reverifier("write", reverify_write_samples, resolves_groups=False)

        # Each verifier tells /healthz and the dashboard how far behind it is.
        from console.health import register_progress_source
        from verifiers import progress_sources

        register_progress_source("read", progress_sources.read_verifier_progress)
        register_progress_source("write", progress_sources.write_verifier_progress)

        # What a configuration file holds of the verifiers (manage.py export_config / apply_config).
        from verifiers import config_sections

        config_sections.register()
