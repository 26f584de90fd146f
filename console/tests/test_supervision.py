"""The launcher's pure supervision logic: restart back-off and Procfile definitions."""

from pathlib import Path

import pytest

from console.supervision import (
    ProcfileError,
    RestartPolicy,
    next_restart_delay,
    parse_procfile,
    read_procfile,
    restart_message,
)


def test_back_off_starts_at_one_second_doubles_and_stops_at_thirty():
    delays, delay = [], None
    for _ in range(8):
        delay = next_restart_delay(delay, uptime_s=0.5)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_up_for_a_minute_is_healthy_again():
    assert next_restart_delay(30, uptime_s=59.9) == 30
    assert next_restart_delay(30, uptime_s=60) == 1
    assert next_restart_delay(16, uptime_s=3600) == 1


def test_policy_is_configurable():
    policy = RestartPolicy(initial_delay_s=0.1, max_delay_s=0.3, healthy_after_s=5)
    assert next_restart_delay(None, 0, policy) == 0.1
    assert next_restart_delay(0.2, 0, policy) == 0.3
    assert next_restart_delay(0.3, 5, policy) == 0.1


def test_restart_message_names_process_exit_code_and_delay():
    assert restart_message("worker", -9, 2.0) == "restarting worker after exit code -9 in 2 s"
    assert restart_message("beat", 1, 0.5) == "restarting beat after exit code 1 in 0.5 s"


def test_procfile_lines_comments_and_blank_lines():
    text = "# processes\n\nweb: gunicorn app --bind :${PORT:-8000}\nnuma: celery worker -Q numa.$(hostname)\n"
    definitions = parse_procfile(text)
    assert [(d.name, d.command) for d in definitions] == [
        ("web", "gunicorn app --bind :${PORT:-8000}"), ("numa", "celery worker -Q numa.$(hostname)")]


@pytest.mark.parametrize("text, message", [
    ("web gunicorn\n", "line 1 is not 'name: command'"),
    ("web: a\nweb: b\n", "line 2 defines 'web' a second time"),
    ("web:\n", "line 1 is not 'name: command'"),
])
def test_bad_procfile_lines_are_refused_with_their_number(text, message):
    with pytest.raises(ProcfileError, match=message):
        parse_procfile(text)


def test_the_procfile_defines_every_production_process_once():
    commands = {d.name: d.command for d in read_procfile()}
    assert set(commands) == {"web", "worker", "beat", "verify_reads", "numa"}
    assert "-Q celery " in commands["worker"]
    # The per-host worker consumes the host's own queue (numa.models.Host.queue_name), one task at a time.
    assert "-Q numa.$(hostname)" in commands["numa"] and "--pool solo" in commands["numa"]
    assert " beat" in commands["beat"] and "verify_reads" in commands["verify_reads"]


def test_every_procfile_process_has_a_systemd_unit_that_restarts_it():
    units = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
    for definition in read_procfile():
        unit = (units / f"mhc-{definition.name.replace('_', '-')}.service").read_text()
        assert "Restart=always" in unit and "WantedBy=mhc.target" in unit, definition.name
        assert f"mhc-{definition.name.replace('_', '-')}.service" in (units / "mhc.target").read_text()
