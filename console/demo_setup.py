"""Demo configuration steps run by `manage.py setup_demo`: each capability has a module
`<part>.demo_setup` with `setup_demo(command)`, idempotent, which configures its demo targets."""

from importlib import import_module

DEMO_SETUP_MODULES = (
    "verifiers.read.demo_setup",
    "verifiers.write.demo_setup",
    "verifiers.reconcile.demo_setup",
    "numa.demo_setup",
    "console.alerts.demo_setup",
)


def demo_setup_steps() -> list:
    steps = []
    for name in DEMO_SETUP_MODULES:
        try:
            steps.append(import_module(name).setup_demo)
        except ModuleNotFoundError as error:
            if not (error.name and name.startswith(error.name)):
                raise  # the module exists but something it imports is missing
    return steps
