"""Demo configuration steps run by `manage.py setup_demo`: each capability's `setup_demo(command)`,
idempotent, configures its demo targets."""

from console.alerts import demo_setup as alerts_demo
from numa import demo_setup as numa_demo
from verifiers.read import demo_setup as read_demo
from verifiers.reconcile import demo_setup as reconcile_demo
from verifiers.write import demo_setup as write_demo


def demo_setup_steps() -> list:
    return [read_demo.setup_demo, write_demo.setup_demo, reconcile_demo.setup_demo, numa_demo.setup_demo,
            alerts_demo.setup_demo]
