"""The verifiers' configuration sections (see console.configuration): what a config file holds."""

from __future__ import annotations

from typing import Any

from console.configuration.sections import ConfigError, Section, register_section
from verifiers.models import LedgerSource, Route, System, VerifiedDatabase, WriteTableRule


def _route_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "method": str(entry.get("method") or "GET").upper()}


def _check_route(entry: dict[str, Any]) -> None:
    from verifiers.read.compare import RulesError, rules_from_dict

    try:
        rules_from_dict(entry.get("rules") or {})
    except RulesError as error:
        raise ConfigError(f"rules: {error}") from None


def _check_write_table(entry: dict[str, Any]) -> None:
    from verifiers.write.checker import compile_write_rules
    from verifiers.write.introspect import override_from_dict

    override_from_dict(entry.get("table", ""), entry.get("key_columns", []), entry.get("version_column", ""),
                       entry.get("excluded_columns", []))
    compile_write_rules(entry.get("rules") or {})


def _forget_write_targets(row: WriteTableRule) -> None:
    from verifiers.write.targets import forget_targets

    forget_targets()


def _schedule_ledger_source(row: LedgerSource) -> None:
    from verifiers.reconcile.services import sync_schedule

    sync_schedule(source=row)


def _unschedule_ledger_source(row: LedgerSource) -> None:
    if row.schedule is not None:
        row.schedule.delete()


def register() -> None:
    register_section(Section(
        name="systems", model=System, key=("migration", "name"), references={"migration": "migrations"},
        fields=("role", "base_url", "timeout_ms", "max_concurrency", "headers_to_add", "enabled")))
    register_section(Section(
        name="routes", model=Route, key=("migration", "method", "template"), references={"migration": "migrations"},
        fields=("enabled", "sampling_ratio", "active_from", "active_until", "rules", "severity",
                "mismatch_rate_alert"),
        normalise=_route_entry, check=_check_route))
    register_section(Section(
        name="verified_databases", model=VerifiedDatabase, key=("migration", "name"), references={"migration": "migrations"},
        fields=("dsn", "dsn_env_var", "statement_timeout_ms", "commit_delay_ms", "capture_ttl_s", "enabled")))
    register_section(Section(
        name="write_tables", model=WriteTableRule, key=("migration", "table"), references={"migration": "migrations"},
        fields=("key_columns", "version_column", "excluded_columns", "rules"),
        check=_check_write_table, after_save=_forget_write_targets, after_delete=_forget_write_targets))
    register_section(Section(
        name="ledger_sources", model=LedgerSource, key=("migration", "name"), references={"migration": "migrations"},
        fields=("dsn", "dsn_env_var", "accounts_table", "account_key", "balance_column", "currency_column",
                "currency_code", "entries_table", "entry_account_column", "entry_amount_column",
                "entry_time_column", "business_time_zone",
                "opening_balance_column", "version_column", "cutoff_time", "time_zone", "workers",
                "wait_timeout_s", "counterpart_table", "counterpart_date_column", "enabled"),
        state_fields=("schedule",),  # derived from cutoff_time and time_zone on every save
        after_save=_schedule_ledger_source, after_delete=_unschedule_ledger_source))
