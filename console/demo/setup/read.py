"""Demo configuration of the read verifier: the candidate, a second legacy endpoint for noise, and
the demo's three GET routes with their rules (idempotent; run by `manage.py setup_demo`)."""

from __future__ import annotations

from console.demo import WON_MIGRATION
from console.demo.setup.migrations import demo_migration
from verifiers.models import Route, System

DEMO_SYSTEMS = [
    {"name": "demo candidate", "role": System.Role.CANDIDATE, "base_url": "http://127.0.0.1:8102",
     "timeout_ms": 2000, "max_concurrency": 64, "headers_to_add": {"X-Shadow-Read": "1"}},
    {"name": "demo legacy (second call)", "role": System.Role.LEGACY_SECONDARY,
     "base_url": "http://127.0.0.1:8101", "timeout_ms": 2000, "max_concurrency": 64, "headers_to_add": {}},
]
# The gateway's noise (traceId, servedAt, X-Trace-Id) is ignored; decimal equivalence stays off
# so the candidate's rounding of USD amounts ("10.12" vs "10.13") is reported.
DEMO_RULES = {"ignore_paths": ["$.traceId", "$.servedAt", "headers.X-Trace-Id"],
              "decimal_equivalence": False, "headers": ["content-type"]}
# History items are matched by entryId (so one omitted memo is one difference, not a cascade of
# shifted elements), and their order is still compared: the candidate sorts ties differently.
HISTORY_RULES = {**DEMO_RULES, "array_keys": {"$.items": "entryId"}, "ordered_arrays": ["$.items"]}
DEMO_ROUTES = [
    ("/accounts/{id}", "medium", DEMO_RULES),
    ("/accounts/{id}/balance", "high", DEMO_RULES),
    ("/accounts/{id}/transactions", "medium", HISTORY_RULES),
]


def setup_demo(command) -> None:
    won = demo_migration(WON_MIGRATION)
    for spec in DEMO_SYSTEMS:
        System.objects.update_or_create(migration=won, name=spec["name"], defaults={**spec, "enabled": True})
    for template, severity, rules in DEMO_ROUTES:
        Route.objects.update_or_create(migration=won, method="GET", template=template,
                                       defaults={"rules": rules, "severity": severity, "enabled": True,
                                                 "sampling_ratio": 1.0})
    command.stdout.write("read verifier: demo candidate, second legacy call and 3 routes configured")
