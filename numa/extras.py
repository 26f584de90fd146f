"""Optional eBPF/perf NUMA measurements: detect what this host allows, measure briefly.

Extras (all need root, or CAP_PERFMON/CAP_BPF, and a tool on PATH):

* ``sched_move_numa`` / ``sched_swap_numa``: NUMA task moves and swaps per second
  (scheduler tracepoints; counted with bpftrace, or perf when bpftrace is missing);
* ``migrate_misplaced_time``: milliseconds per second spent in
  migrate_misplaced_folio (migrate_misplaced_page before 6.x), via bpftrace
  kprobe/kretprobe;
* ``perf_node_loads``: local vs remote DRAM loads (perf node-loads /
  node-load-misses; often "not supported" in VMs).

Nothing here raises: every failure becomes "not available: <reason>".
Paths, PATH and the root check are parameters so tests can fake a host.

Pure module: no Django.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

EXTRA_NAMES: tuple[str, ...] = (
    "sched_move_numa",
    "sched_swap_numa",
    "migrate_misplaced_time",
    "perf_node_loads",
)
TRACEFS_ROOTS: tuple[str, ...] = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
MIGRATE_SYMBOLS: tuple[str, ...] = ("migrate_misplaced_folio", "migrate_misplaced_page")
# Seconds allowed on top of the measurement for a tool to start and exit.
TOOL_STARTUP_ALLOWANCE_S = 10.0


@dataclass
class ExtraStatus:
    """Whether one extra can run here, with which tool, and why not if it cannot."""

    name: str
    available: bool
    reason: str | None = None
    tool: str | None = None  # "bpftrace" or "perf"
    detail: dict[str, str] = field(default_factory=dict)  # e.g. {"symbol": ...}


@dataclass
class ExtraMeasurement:
    """Figures of one extra over a short run, or why there are none."""

    name: str
    available: bool
    values: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


@dataclass
class _HostView:
    """What the probes look at; injectable for tests."""

    path: str | None
    kallsyms_path: str
    tracefs_roots: tuple[str, ...]
    perf_event_paranoid_path: str
    is_root: bool


def _process_search_path() -> str:
    # This process's own PATH (where tools are found), not configuration: no setting for it.
    return os.pathsep.join(os.get_exec_path())


class HostLocations(TypedDict, total=False):
    """Where probe_extras() and measure_extras() look, each defaulting to this host's: fixture
    trees in tests. is_root overrides the euid check (default: os.geteuid() == 0)."""

    kallsyms_path: str
    tracefs_roots: tuple[str, ...]
    perf_event_paranoid_path: str
    is_root: bool | None


def _host_view(
    path: str | None,
    kallsyms_path: str = "/proc/kallsyms",
    tracefs_roots: tuple[str, ...] = TRACEFS_ROOTS,
    perf_event_paranoid_path: str = "/proc/sys/kernel/perf_event_paranoid",
    is_root: bool | None = None,
) -> _HostView:
    return _HostView(
        path=path if path is not None else _process_search_path(),
        kallsyms_path=kallsyms_path,
        tracefs_roots=tracefs_roots,
        perf_event_paranoid_path=perf_event_paranoid_path,
        is_root=(os.geteuid() == 0) if is_root is None else is_root,
    )


def _find_tracepoint(view: _HostView, tracepoint: str) -> tuple[bool, str]:
    """(found, reason) for events/sched/<tracepoint> in a readable tracefs."""
    mounted = [root for root in view.tracefs_roots if os.path.isdir(os.path.join(root, "events"))]
    if not mounted:
        return False, "tracefs not mounted or not readable (no events/ under " + ", ".join(
            view.tracefs_roots
        ) + ")"
    for root in mounted:
        if os.path.isdir(os.path.join(root, "events", "sched", tracepoint)):
            return True, ""
    return False, f"tracepoint sched:{tracepoint} missing: kernel without NUMA balancing"


def _find_kallsyms_symbol(view: _HostView) -> tuple[str | None, str]:
    """(symbol, reason): the migrate_misplaced_* function present in kallsyms."""
    try:
        with open(view.kallsyms_path, "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError as error:
        return None, f"{view.kallsyms_path} unreadable: {error.strerror or error}"
    found = set()
    for symbol in MIGRATE_SYMBOLS:
        if re.search(rf" [tT] {symbol}(\s|$)", text):
            found.add(symbol)
    for symbol in MIGRATE_SYMBOLS:  # prefer the newer folio name
        if symbol in found:
            return symbol, ""
    return None, f"none of {', '.join(MIGRATE_SYMBOLS)} in {view.kallsyms_path}"


def _perf_allowed(view: _HostView) -> tuple[bool, str]:
    if view.is_root:
        return True, ""
    try:
        with open(view.perf_event_paranoid_path) as handle:
            paranoid = int(handle.read().strip())
    except (OSError, ValueError):
        return False, "not root and perf_event_paranoid unreadable"
    if paranoid <= 0:
        return True, ""
    return False, f"not root and kernel.perf_event_paranoid={paranoid} (system-wide needs <= 0)"


def probe_extras(path: str | None = None, **where: Unpack[HostLocations]) -> dict[str, ExtraStatus]:
    """For each extra, whether it can run here and why not. Never raises.

    path: the PATH to search tools on (default: this process's PATH).
    """
    statuses: dict[str, ExtraStatus] = {}
    try:
        view = _host_view(path, **where)
        bpftrace = shutil.which("bpftrace", path=view.path)
        perf = shutil.which("perf", path=view.path)

        for tracepoint in ("sched_move_numa", "sched_swap_numa"):
            status = ExtraStatus(name=tracepoint, available=False)
            found, reason = _find_tracepoint(view, tracepoint)
            if not view.is_root:
                status.reason = "needs root (tracepoints)"
            elif not (bpftrace or perf):
                status.reason = "neither bpftrace nor perf on PATH"
            elif not found:
                status.reason = reason
            else:
                status.available = True
                status.tool = "bpftrace" if bpftrace else "perf"
            statuses[tracepoint] = status

        status = ExtraStatus(name="migrate_misplaced_time", available=False)
        symbol, reason = _find_kallsyms_symbol(view)
        if not view.is_root:
            status.reason = "needs root (kprobes)"
        elif not bpftrace:
            status.reason = "bpftrace not on PATH"
        elif symbol is None:
            status.reason = reason
        else:
            status.available = True
            status.tool = "bpftrace"
            status.detail["symbol"] = symbol
        statuses["migrate_misplaced_time"] = status

        status = ExtraStatus(name="perf_node_loads", available=False)
        allowed, reason = _perf_allowed(view)
        if not perf:
            status.reason = "perf not on PATH"
        elif not allowed:
            status.reason = reason
        else:
            # Whether the PMU has node-loads is only known by trying (measure_extras).
            status.available = True
            status.tool = "perf"
        statuses["perf_node_loads"] = status
    except Exception as error:  # noqa: BLE001 - the contract is "never raises"
        for name in EXTRA_NAMES:
            statuses.setdefault(
                name, ExtraStatus(name=name, available=False, reason=f"probe failed: {error}")
            )
    return statuses


# --------------------------------------------------------------------------- measuring


def _run_tool(argv: list[str], seconds: float, path: str | None) -> tuple[str, str]:
    """(stdout, stderr); raises RuntimeError with a readable reason on any failure."""
    environment = dict(os.environ)
    if path is not None:
        environment["PATH"] = path
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=seconds + TOOL_STARTUP_ALLOWANCE_S,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        limit_s = seconds + TOOL_STARTUP_ALLOWANCE_S
        raise RuntimeError(f"{argv[0]} did not finish within {limit_s:.0f} s") from None
    except OSError as error:
        raise RuntimeError(f"{argv[0]} could not start: {error.strerror or error}") from error
    if completed.returncode != 0:
        last_line = (completed.stderr.strip().splitlines() or ["no error output"])[-1]
        tool = os.path.basename(argv[0])
        raise RuntimeError(f"{tool} exited {completed.returncode}: {last_line}")
    return completed.stdout, completed.stderr


def parse_bpftrace_maps(output: str) -> dict[str, float]:
    """"@name: 12" lines printed by bpftrace at exit -> {"name": 12.0}."""
    values: dict[str, float] = {}
    for match in re.finditer(r"^@(\w+):\s*(-?\d+(?:\.\d+)?)\s*$", output, flags=re.M):
        values[match.group(1)] = float(match.group(2))
    return values


def parse_perf_stat_csv(output: str) -> dict[str, float | str]:
    """perf stat -x, lines ("value,unit,event,...") -> {event: value or "<not supported>"}."""
    values: dict[str, float | str] = {}
    for line in output.splitlines():
        parts = line.split(",")
        if len(parts) < 3 or not parts[2]:
            continue
        raw, event = parts[0], parts[2]
        try:
            values[event] = float(raw)
        except ValueError:
            values[event] = raw  # "<not supported>" or "<not counted>"
    return values


def _interval_probe(seconds: float) -> str:
    return f"interval:ms:{max(1, int(seconds * 1000))} {{ exit(); }}"


def _measure_tracepoints(
    statuses: dict[str, ExtraStatus],
    seconds: float,
    path: str | None,
    bpftrace: str | None,
    perf: str | None,
) -> dict[str, ExtraMeasurement]:
    names = [name for name in ("sched_move_numa", "sched_swap_numa") if statuses[name].available]
    if not names:
        return {}
    tool = statuses[names[0]].tool
    if tool == "bpftrace" and bpftrace:
        program = " ".join(f"tracepoint:sched:{name} {{ @{name} = count(); }}" for name in names)
        argv = [bpftrace, "-e", f"{program} {_interval_probe(seconds)}"]
        stdout, _ = _run_tool(argv, seconds, path)
        counts = parse_bpftrace_maps(stdout)
    elif perf:
        events = ",".join(f"sched:{name}" for name in names)
        _, stderr = _run_tool(
            [perf, "stat", "-x,", "-e", events, "-a", "sleep", f"{seconds:g}"], seconds, path
        )
        parsed = parse_perf_stat_csv(stderr)
        counts = {}
        for name in names:
            value = parsed.get(f"sched:{name}")
            if not isinstance(value, float):
                raise RuntimeError(f"perf reported {value or 'nothing'} for sched:{name}")
            counts[name] = value
    else:
        raise RuntimeError("no tool left to count tracepoints")
    # A map bpftrace never touched is not printed: zero events.
    return {
        name: ExtraMeasurement(
            name=name, available=True, values={"events_per_s": counts.get(name, 0.0) / seconds}
        )
        for name in names
    }


def _measure_migrate_time(
    status: ExtraStatus, seconds: float, path: str | None, bpftrace: str
) -> ExtraMeasurement:
    symbol = status.detail["symbol"]
    program = (
        f"kprobe:{symbol} {{ @start[tid] = nsecs; }} "
        f"kretprobe:{symbol} /@start[tid]/ {{ @ns = sum(nsecs - @start[tid]); "
        f"@calls = count(); delete(@start[tid]); }} "
        f"{_interval_probe(seconds)} END {{ clear(@start); }}"
    )
    stdout, _ = _run_tool([bpftrace, "-e", program], seconds, path)
    values = parse_bpftrace_maps(stdout)
    return ExtraMeasurement(
        name="migrate_misplaced_time",
        available=True,
        values={
            "ms_per_s": values.get("ns", 0.0) / 1e6 / seconds,
            "calls_per_s": values.get("calls", 0.0) / seconds,
        },
    )


def _measure_node_loads(seconds: float, path: str | None, perf: str) -> ExtraMeasurement:
    _, stderr = _run_tool(
        [perf, "stat", "-x,", "-e", "node-loads,node-load-misses", "-a", "sleep", f"{seconds:g}"],
        seconds,
        path,
    )
    parsed = parse_perf_stat_csv(stderr)
    loads, misses = parsed.get("node-loads"), parsed.get("node-load-misses")
    if not isinstance(loads, float) or not isinstance(misses, float):
        shown = loads if not isinstance(loads, float) else misses
        raise RuntimeError(
            f"perf reports node-loads/node-load-misses as {shown or 'missing'} "
            "(no such PMU event on this CPU or VM)"
        )
    return ExtraMeasurement(
        name="perf_node_loads",
        available=True,
        values={
            "node_loads_per_s": loads / seconds,
            "node_load_misses_per_s": misses / seconds,
            # node-load-misses are loads served by another node's DRAM
            "remote_load_share": misses / loads if loads else 0.0,
        },
    )


def measure_extras(
    seconds: float = 1.0, path: str | None = None, **where: Unpack[HostLocations]
) -> dict[str, ExtraMeasurement]:
    """Run every available extra for about `seconds`; never raises.

    Each unavailable or failing extra comes back with available=False and
    reason "not available: <why>".
    """
    results: dict[str, ExtraMeasurement] = {}
    try:
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}")
        statuses = probe_extras(path, **where)
        search_path = path if path is not None else _process_search_path()
        bpftrace = shutil.which("bpftrace", path=search_path)
        perf = shutil.which("perf", path=search_path)
        for name, status in statuses.items():
            if not status.available:
                results[name] = ExtraMeasurement(
                    name=name, available=False, reason=f"not available: {status.reason}"
                )

        def tracepoints() -> dict[str, ExtraMeasurement]:
            return _measure_tracepoints(statuses, seconds, path, bpftrace, perf)

        def migrate_time() -> dict[str, ExtraMeasurement]:
            assert bpftrace is not None  # checked by probe_extras
            status = statuses["migrate_misplaced_time"]
            return {status.name: _measure_migrate_time(status, seconds, path, bpftrace)}

        def node_loads() -> dict[str, ExtraMeasurement]:
            assert perf is not None  # checked by probe_extras
            return {"perf_node_loads": _measure_node_loads(seconds, path, perf)}

        runs: list[tuple[tuple[str, ...], Callable[[], dict[str, ExtraMeasurement]]]] = [
            (("sched_move_numa", "sched_swap_numa"), tracepoints),
            (("migrate_misplaced_time",), migrate_time),
            (("perf_node_loads",), node_loads),
        ]
        for names, run in runs:
            if not any(statuses[name].available for name in names):
                continue
            try:
                results.update(run())
            except Exception as error:  # noqa: BLE001 - degrade, never raise
                for name in names:
                    if statuses[name].available:
                        results[name] = ExtraMeasurement(
                            name=name, available=False, reason=f"not available: {error}"
                        )
    except Exception as error:  # noqa: BLE001
        for name in EXTRA_NAMES:
            results.setdefault(
                name, ExtraMeasurement(name=name, available=False, reason=f"not available: {error}")
            )
    return results
