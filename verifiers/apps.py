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
