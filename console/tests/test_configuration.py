"""Configuration as code: export_config and apply_config, run for real against PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from console.alerts.models import AlertRecipient, AlertRule
from console.configuration.sections import registered_sections
from numa.models import Host, PinningEvent
from verifiers.models import LedgerSource, Route, System, VerifiedDatabase, WriteTableRule

pytestmark = pytest.mark.django_db

TWO_OF_EVERYTHING: dict[str, Any] = {
    "systems": [
        {"name": "won-candidate", "role": "candidate", "base_url": "http://won-new.internal:8080",
         "headers_to_add": {"X-Shadow": "1"}},
        {"name": "won-legacy-2", "role": "legacy_secondary", "base_url": "http://won-old-2.internal:8080"},
    ],
    "routes": [
        {"method": "get", "template": "/accounts/{id}/balance", "active_from": "08:00", "severity": "high",
         "rules": {"ignore_paths": ["$.traceId"], "tolerance": "0.01"}},
        {"template": "/fx/accounts/{id}", "sampling_ratio": 0.25},
    ],
    "verified_databases": [
        {"name": "won-ledger", "dsn": "postgresql://verifier@won-db.internal:5432/ledger"},
        {"name": "fx-deposits", "dsn_env_var": "FX_DEPOSITS_DSN", "statement_timeout_ms": 500},
    ],
    "write_tables": [
        {"table": "entries", "key_columns": ["transfer_id", "account_id"], "excluded_columns": ["created_at"]},
        {"table": "transfers", "version_column": "updated_at"},
    ],
    "ledger_sources": [
        {"name": "won", "dsn_env_var": "WON_LEDGER_DSN", "accounts_table": "accounts", "account_key": "id",
         "balance_column": "balance", "currency_column": "currency", "entries_table": "entries",
         "entry_account_column": "account_id", "entry_amount_column": "amount",
         "entry_time_column": "business_time", "cutoff_time": "00:00", "time_zone": "Asia/Seoul"},
    ],
    "numa_hosts": [
        {"hostname": "ledger-1", "delivery": "agent", "work_metric_name": "requests served"},
        {"hostname": "ledger-2"},
    ],
    "pinning_events": [
        {"host": "ledger-1", "changed_at": "2026-11-30T01:00:00+00:00", "kind": "cpu_manager_static",
         "note": "static CPU manager", "who": "sre"},
    ],
    "alert_rules": [{"kind": "mismatch_rate", "threshold": 0.02, "window_minutes": 15}],
    "alert_recipients": [
        {"email": "oncall@bank.example", "name": "On call", "kinds": ["new_group", "reconciliation"]},
        {"email": "lead@bank.example", "kinds": ["mismatch_rate"], "active": False},
    ],
}

CONFIGURED_MODELS = (System, Route, VerifiedDatabase, WriteTableRule, LedgerSource, Host, PinningEvent,
                     AlertRule, AlertRecipient)


def apply(tmp_path: Path, document: Any, *options: str) -> str:
    path = tmp_path / "console.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    out = io.StringIO()
    call_command("apply_config", str(path), *options, stdout=out)
    return out.getvalue()


def export() -> dict[str, Any]:
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return json.loads(out.getvalue())


def empty_the_database() -> None:
    for model in (PinningEvent, *CONFIGURED_MODELS):
        model.objects.all().delete()
    PeriodicTask.objects.filter(name__startswith="Reconcile ").delete()


def test_every_model_field_is_either_configuration_or_declared_state():
    """A new model field must be exported (or named as state): else export then apply loses it."""
    for section in registered_sections():
        model_fields = {f.name for f in section.model._meta.concrete_fields if not f.primary_key}
        declared = set(section.key) | set(section.fields) | set(section.state_fields)
        assert model_fields == declared, (section.name, model_fields ^ declared)


def test_export_then_apply_on_an_empty_database_gives_the_same_configuration(tmp_path):
    apply(tmp_path, TWO_OF_EVERYTHING)
    exported = export()
    assert {name for name in exported if name != "format"} == {s.name for s in registered_sections()}
    empty_the_database()
    assert all(not model.objects.exists() for model in CONFIGURED_MODELS)
    apply(tmp_path, exported)
    assert export() == exported


def test_applying_the_same_file_twice_changes_nothing(tmp_path):
    first = apply(tmp_path, TWO_OF_EVERYTHING)
    assert first.strip().splitlines()[-1] == "15 create"
    rows_before = {model.__name__: list(model.objects.values()) for model in CONFIGURED_MODELS}
    assert apply(tmp_path, TWO_OF_EVERYTHING).strip() == "15 unchanged"
    assert {model.__name__: list(model.objects.values()) for model in CONFIGURED_MODELS} == rows_before


def test_a_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    apply(tmp_path, TWO_OF_EVERYTHING)
    changed = json.loads(json.dumps(TWO_OF_EVERYTHING))
    changed["systems"][0]["timeout_ms"] = 500
    changed["numa_hosts"].append({"hostname": "ledger-3"})
    output = apply(tmp_path, changed, "--dry-run")
    assert "update      systems: won-candidate (timeout_ms)" in output
    assert "create      numa_hosts: ledger-3" in output
    assert output.strip().splitlines()[-1] == "dry run, nothing changed: would 1 create, 1 update, 14 unchanged"
    assert System.objects.get(name="won-candidate").timeout_ms == 2000
    assert not Host.objects.filter(hostname="ledger-3").exists()


def test_rows_the_file_does_not_mention_are_kept_or_pruned(tmp_path):
    apply(tmp_path, TWO_OF_EVERYTHING)
    only_one_host = {"numa_hosts": [{"hostname": "ledger-2"}]}
    kept = apply(tmp_path, only_one_host)
    assert "not in file numa_hosts: ledger-1" in kept and Host.objects.count() == 2
    pruned = apply(tmp_path, only_one_host, "--prune")
    assert "delete      numa_hosts: ledger-1" in pruned
    assert list(Host.objects.values_list("hostname", flat=True)) == ["ledger-2"]
    assert not PinningEvent.objects.exists()  # the pruned host's events went with it
    assert Route.objects.count() == 2  # sections absent from the file are left alone, even with --prune


def test_a_ledger_source_gets_its_nightly_schedule(tmp_path):
    apply(tmp_path, TWO_OF_EVERYTHING)
    source = LedgerSource.objects.get(name="won")
    assert source.schedule is not None and source.schedule.crontab.timezone.key == "Asia/Seoul"
    assert source.schedule.enabled


def test_an_unknown_reference_names_the_entry_and_applies_nothing(tmp_path):
    document = json.loads(json.dumps(TWO_OF_EVERYTHING))
    document["pinning_events"][0]["host"] = "ledger-9"
    with pytest.raises(CommandError, match=r"pinning_events\[0\] \(ledger-9 .*\): host 'ledger-9' is not a known"):
        apply(tmp_path, document)
    assert all(not model.objects.exists() for model in (System, Route, Host, LedgerSource))


def test_a_password_in_a_dsn_is_refused_naming_the_entry(tmp_path):
    document = {"verified_databases": [{"name": "won", "dsn": "postgresql://u:secret@db:5432/x"}]}
    with pytest.raises(CommandError, match=r"verified_databases\[0\] \(won\): dsn: No passwords"):
        apply(tmp_path, document)
    assert not VerifiedDatabase.objects.exists()


def test_an_entry_listed_twice_is_refused(tmp_path):
    document = {"numa_hosts": [{"hostname": "ledger-1"}, {"hostname": "ledger-1", "enabled": False}]}
    with pytest.raises(CommandError, match=r"numa_hosts\[1\] \(ledger-1\): listed twice"):
        apply(tmp_path, document)
    assert not Host.objects.exists()


def test_a_newer_format_is_refused(tmp_path):
    with pytest.raises(CommandError, match="format 2 is not supported"):
        apply(tmp_path, {"format": 2})


def test_export_to_a_file(tmp_path):
    apply(tmp_path, TWO_OF_EVERYTHING)
    call_command("export_config", str(tmp_path / "out.json"), stderr=io.StringIO())
    assert json.loads((tmp_path / "out.json").read_text())["routes"][0]["method"] == "GET"
