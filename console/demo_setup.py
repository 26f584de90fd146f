"""Demo configuration steps run by `manage.py setup_demo`, one function per capability.

Each step takes the management command (for output) and must be idempotent.
"""

DEMO_SETUP_STEPS: list = []
