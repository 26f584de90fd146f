"""Demo configuration run by `manage.py setup_demo` (uses Django; the demo world itself does not).

One module per part, each with an idempotent `setup_demo(command)` that configures its demo targets.
"""

from console.demo.setup import alerts, migrations, numa, read, reconcile, write


def demo_setup_steps() -> list:
    return [migrations.setup_demo, read.setup_demo, write.setup_demo, reconcile.setup_demo, numa.setup_demo, alerts.setup_demo]
