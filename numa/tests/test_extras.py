"""Tests of numa.extras: detection, "not available" reasons, parsing fake tool output."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from numa.extras import (
    EXTRA_NAMES,
    ExtraMeasurement,
    measure_extras,
    parse_bpftrace_maps,
    parse_perf_stat_csv,
    probe_extras,
)

KALLSYMS_WITH_FOLIO = (
    "ffffffff8166e000 T migrate_pages\n"
    "ffffffff8166e050 T migrate_misplaced_folio\n"
    "ffffffff8166e0a0 t other_symbol\n"
)


def make_tool(directory: Path, name: str, script: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def make_tracefs(root: Path, *tracepoints: str) -> Path:
    for tracepoint in tracepoints:
        (root / "events" / "sched" / tracepoint).mkdir(parents=True)
    (root / "events").mkdir(parents=True, exist_ok=True)
    return root


def measure_with_tracepoints(
    tmp_path: Path, kallsyms: str, tool: str, script: str, *, seconds: float
) -> dict[str, ExtraMeasurement]:
    """measure_extras as root with one fake `tool` on PATH running `script`, and a tracefs that
    has the sched_move_numa and sched_swap_numa tracepoints."""
    tools = tmp_path / "bin"
    make_tool(tools, tool, script)
    tracefs = make_tracefs(tmp_path / "tracing", "sched_move_numa", "sched_swap_numa")
    return measure_extras(
        seconds, path=str(tools), kallsyms_path=kallsyms, tracefs_roots=(str(tracefs),), is_root=True
    )


@pytest.fixture
def kallsyms(tmp_path: Path) -> str:
    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS_WITH_FOLIO)
    return str(path)


# ------------------------------------------------------------------ parsing


def test_bpftrace_map_lines_are_parsed() -> None:
    output = "Attaching 3 probes...\n\n@moves: 12\n@ns: 4500000\n"
    assert parse_bpftrace_maps(output) == {"moves": 12.0, "ns": 4500000.0}


def test_perf_csv_keeps_numbers_and_not_supported_markers() -> None:
    output = "1234,,node-loads,1000,100.00,,\n<not supported>,,node-load-misses,0,100.00,,\n"
    assert parse_perf_stat_csv(output) == {
        "node-loads": 1234.0,
        "node-load-misses": "<not supported>",
    }


# ------------------------------------------------------------------ probe: not available


def test_every_extra_is_unavailable_with_a_reason_when_no_tools_on_path(
    tmp_path: Path, kallsyms: str
) -> None:
    statuses = probe_extras(path=str(tmp_path / "empty"), kallsyms_path=kallsyms, is_root=True)
    assert set(statuses) == set(EXTRA_NAMES)
    assert all(not status.available for status in statuses.values())
    assert statuses["sched_move_numa"].reason == "neither bpftrace nor perf on PATH"
    assert statuses["migrate_misplaced_time"].reason == "bpftrace not on PATH"
    assert statuses["perf_node_loads"].reason == "perf not on PATH"


def test_tracepoints_and_kprobes_need_root(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    statuses = probe_extras(path=str(tools), kallsyms_path=kallsyms, is_root=False)
    assert statuses["sched_swap_numa"].reason == "needs root (tracepoints)"
    assert statuses["migrate_misplaced_time"].reason == "needs root (kprobes)"


def test_missing_tracefs_is_the_reason(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    statuses = probe_extras(
        path=str(tools),
        kallsyms_path=kallsyms,
        tracefs_roots=(str(tmp_path / "no-tracefs"),),
        is_root=True,
    )
    assert "tracefs not mounted" in (statuses["sched_move_numa"].reason or "")


def test_missing_tracepoint_in_tracefs_is_the_reason(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    tracefs = make_tracefs(tmp_path / "tracing", "sched_move_numa")
    statuses = probe_extras(
        path=str(tools), kallsyms_path=kallsyms, tracefs_roots=(str(tracefs),), is_root=True
    )
    assert statuses["sched_move_numa"].available is True
    assert statuses["sched_swap_numa"].available is False
    assert "sched:sched_swap_numa missing" in (statuses["sched_swap_numa"].reason or "")


def test_kallsyms_without_migrate_misplaced_symbols_is_the_reason(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    fake = tmp_path / "kallsyms"
    fake.write_text(
        "ffffffff81000000 T migrate_pages\n"
        "ffffffff81000010 T migrate_misplaced_folio_prepare\n"
    )
    status = probe_extras(path=str(tools), kallsyms_path=str(fake), is_root=True)[
        "migrate_misplaced_time"
    ]
    assert status.available is False
    assert "none of migrate_misplaced_folio, migrate_misplaced_page" in (status.reason or "")


def test_older_kernel_symbol_migrate_misplaced_page_is_found(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    fake = tmp_path / "kallsyms"
    fake.write_text("ffffffff81000000 T migrate_misplaced_page\n")
    status = probe_extras(path=str(tools), kallsyms_path=str(fake), is_root=True)[
        "migrate_misplaced_time"
    ]
    assert status.available is True
    assert status.detail["symbol"] == "migrate_misplaced_page"


def test_unreadable_kallsyms_is_the_reason(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "bpftrace", "exit 0\n")
    status = probe_extras(
        path=str(tools), kallsyms_path=str(tmp_path / "missing"), is_root=True
    )["migrate_misplaced_time"]
    assert "unreadable" in (status.reason or "")


def test_perf_without_root_depends_on_perf_event_paranoid(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "perf", "exit 0\n")
    paranoid = tmp_path / "paranoid"
    paranoid.write_text("2\n")
    status = probe_extras(
        path=str(tools), kallsyms_path=kallsyms, perf_event_paranoid_path=str(paranoid),
        is_root=False,
    )["perf_node_loads"]
    assert status.reason == "not root and kernel.perf_event_paranoid=2 (system-wide needs <= 0)"
    paranoid.write_text("-1\n")
    status = probe_extras(
        path=str(tools), kallsyms_path=kallsyms, perf_event_paranoid_path=str(paranoid),
        is_root=False,
    )["perf_node_loads"]
    assert status.available is True


# ------------------------------------------------------------------ measure with fake tools


def test_measure_reports_not_available_for_everything_without_tools(
    tmp_path: Path, kallsyms: str
) -> None:
    results = measure_extras(
        0.01, path=str(tmp_path / "empty"), kallsyms_path=kallsyms, is_root=True
    )
    assert set(results) == set(EXTRA_NAMES)
    for result in results.values():
        assert result.available is False
        assert (result.reason or "").startswith("not available: ")


def test_measure_parses_fake_bpftrace_counts_and_migration_time(
    tmp_path: Path, kallsyms: str
) -> None:
    # Answers depending on the program: kprobe run -> time, tracepoint run -> counts.
    results = measure_with_tracepoints(
        tmp_path,
        kallsyms,
        "bpftrace",
        'case "$2" in\n'
        '  *kprobe*) printf "Attaching 4 probes...\\n\\n@calls: 40\\n@ns: 25000000\\n" ;;\n'
        '  *) printf "Attaching 3 probes...\\n\\n@sched_move_numa: 6\\n" ;;\n'
        "esac\n",
        seconds=0.5,
    )
    assert results["sched_move_numa"].values == {"events_per_s": 12.0}
    assert results["sched_swap_numa"].values == {"events_per_s": 0.0}  # map never printed
    assert results["migrate_misplaced_time"].values == {"ms_per_s": 50.0, "calls_per_s": 80.0}


def test_measure_parses_fake_perf_node_loads(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(
        tools,
        "perf",
        'printf "9000,,node-loads,1000,100.00,,\\n1000,,node-load-misses,1000,100.00,,\\n" >&2\n',
    )
    result = measure_extras(
        0.5, path=str(tools), kallsyms_path=kallsyms, is_root=True
    )["perf_node_loads"]
    assert result.available is True
    assert result.values["node_loads_per_s"] == pytest.approx(18000.0)
    assert result.values["remote_load_share"] == pytest.approx(1000 / 9000)


def test_perf_not_supported_event_becomes_not_available(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(
        tools,
        "perf",
        'printf "<not supported>,,node-loads,0,100.00,,\\n'
        '<not supported>,,node-load-misses,0,100.00,,\\n" >&2\n',
    )
    result = measure_extras(0.1, path=str(tools), kallsyms_path=kallsyms, is_root=True)[
        "perf_node_loads"
    ]
    assert result.available is False
    assert "<not supported>" in (result.reason or "")


def test_failing_tool_becomes_not_available_with_its_error(tmp_path: Path, kallsyms: str) -> None:
    tools = tmp_path / "bin"
    make_tool(tools, "perf", 'echo "Error: no permission to enable events" >&2\nexit 3\n')
    result = measure_extras(0.1, path=str(tools), kallsyms_path=kallsyms, is_root=True)[
        "perf_node_loads"
    ]
    assert result.available is False
    assert result.reason == "not available: perf exited 3: Error: no permission to enable events"


def test_perf_counts_tracepoints_when_bpftrace_is_missing(tmp_path: Path, kallsyms: str) -> None:
    results = measure_with_tracepoints(
        tmp_path,
        kallsyms,
        "perf",
        'case "$4" in\n'
        '  sched:*) printf "3,,sched:sched_move_numa,1,100.00,,\\n'
        '1,,sched:sched_swap_numa,1,100.00,,\\n" >&2 ;;\n'
        '  *) printf "<not supported>,,node-loads,0,100.00,,\\n" >&2 ;;\n'
        "esac\n",
        seconds=1.0,
    )
    assert results["sched_move_numa"].values == {"events_per_s": 3.0}
    assert results["sched_swap_numa"].values == {"events_per_s": 1.0}


def test_bad_seconds_is_reported_not_raised() -> None:
    results = measure_extras(-1)
    assert all("seconds must be > 0" in (result.reason or "") for result in results.values())


# ------------------------------------------------------------------ this machine


def test_live_probe_gives_a_status_with_a_reason_for_each_unavailable_extra() -> None:
    statuses = probe_extras()
    assert set(statuses) == set(EXTRA_NAMES)
    for status in statuses.values():
        assert status.available or status.reason


def test_live_measure_never_raises_and_explains_gaps() -> None:
    for result in measure_extras(0.2).values():
        if result.available:
            assert result.values
        else:
            assert (result.reason or "").startswith("not available: ")
