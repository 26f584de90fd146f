"""Readers for the kernel's NUMA, memory-migration and CPU-time files.

One call, ``collect_host_sample()``, reads /sys and /proc (roots are parameters,
so tests point them at fixture trees) and returns a plain, JSON-serialisable
``HostSample``. It runs without root, starts no subprocess and reads each file
once: it is meant to run every few seconds on every host.

A missing or malformed kernel file never raises: it becomes an entry in
``HostSample.unavailable`` (metric -> reason) and the rest of the sample is kept.
Only a wrong parameter (a root that does not exist) raises ``NumaSourceError``.

Pure module: no Django.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

# The six per-node counters documented in Documentation/admin-guide/numastat.rst.
NUMASTAT_KEYS: tuple[str, ...] = (
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "interleave_hit",
    "local_node",
    "other_node",
)

# /proc/stat per-CPU columns, in the order proc(5) gives them (USER_HZ ticks).
# guest/guest_nice are already included in user/nice, so they are not kept.
CPU_TIME_FIELDS: tuple[str, ...] = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
)

# /proc/vmstat lines kept: all are monotonically increasing event counters.
VMSTAT_COUNTER_PREFIXES: tuple[str, ...] = (
    "numa_",
    "pgmigrate_",
    "thp_migration_",
    "pgpromote_",
    "pgdemote_",
)

# Fields of /proc/PID/sched that describe NUMA placement (CONFIG_NUMA_BALANCING).
PROCESS_SCHED_NUMA_KEYS: tuple[str, ...] = (
    "mm->numa_scan_seq",
    "numa_pages_migrated",
    "numa_preferred_nid",
    "total_numa_faults",
)

# cgroup v2 memory.stat keys worth keeping: NUMA balancing, migration, tiering,
# working-set refaults (a sign of memory pressure on a node). The kernel adds
# keys over time, so prefixes rather than a fixed list.
CGROUP_MEMORY_STAT_PREFIXES: tuple[str, ...] = (
    "numa_",
    "pgmigrate",
    "pgpromote",
    "pgdemote",
    "thp_migration",
    "workingset_",
    "anon",
    "file",
)


class NumaSourceError(ValueError):
    """A collector parameter is wrong (e.g. a root directory that does not exist)."""


@dataclass
class NodeSample:
    """One NUMA node as /sys/devices/system/node/nodeN/ describes it."""

    node_id: int
    numastat: dict[str, int] = field(default_factory=dict)
    meminfo_kb: dict[str, int] = field(default_factory=dict)
    cpus: list[int] = field(default_factory=list)
    distance: list[int] = field(default_factory=list)
    # /proc/stat ticks summed over this node's CPUs (keys: CPU_TIME_FIELDS).
    cpu_ticks: dict[str, int] = field(default_factory=dict)


@dataclass
class ProcessSample:
    """One of the top processes by cumulative CPU time, with its NUMA fields."""

    pid: int
    comm: str
    cpu_ticks: int  # utime + stime from /proc/PID/stat
    last_cpu: int | None  # CPU it last ran on (field 39 of /proc/PID/stat)
    sched_numa: dict[str, int] = field(default_factory=dict)


@dataclass
class CgroupSample:
    """One leaf cgroup v2 (typically a container): memory NUMA stats and its cpuset."""

    path: str  # relative to the cgroup root
    memory_stat: dict[str, int] = field(default_factory=dict)
    # memory.numa_stat: item -> {node id: bytes}
    numa_stat_bytes: dict[str, dict[int, int]] = field(default_factory=dict)
    cpus_effective: list[int] | None = None
    mems_effective: list[int] | None = None


@dataclass
class HostSample:
    """Everything one collection read from one host. JSON-safe via to_dict()."""

    monotonic_s: float
    wall_time_s: float
    hostname: str
    boot_id: str | None
    user_hz: int
    page_size_bytes: int
    numa_balancing: int | None
    nodes: list[NodeSample] = field(default_factory=list)
    vmstat: dict[str, int] = field(default_factory=dict)
    # /proc/stat "cpu" line (all CPUs) in ticks; keys: CPU_TIME_FIELDS.
    host_cpu_ticks: dict[str, int] = field(default_factory=dict)
    online_cpus: int = 0
    processes: list[ProcessSample] = field(default_factory=list)
    cgroups: list[CgroupSample] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; node ids inside numa_stat_bytes become strings for JSON."""
        data = asdict(self)
        for cgroup in data["cgroups"]:
            cgroup["numa_stat_bytes"] = {
                item: {str(node): value for node, value in per_node.items()}
                for item, per_node in cgroup["numa_stat_bytes"].items()
            }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostSample:
        """Inverse of to_dict() (also accepts the dict after a JSON round trip)."""
        try:
            nodes = [NodeSample(**node) for node in data.get("nodes", [])]
            processes = [ProcessSample(**proc) for proc in data.get("processes", [])]
            cgroups = []
            for raw in data.get("cgroups", []):
                raw = dict(raw)
                raw["numa_stat_bytes"] = {
                    item: {int(node): int(value) for node, value in per_node.items()}
                    for item, per_node in raw.get("numa_stat_bytes", {}).items()
                }
                cgroups.append(CgroupSample(**raw))
            scalars = {
                key: value
                for key, value in data.items()
                if key not in ("nodes", "processes", "cgroups")
            }
            return cls(nodes=nodes, processes=processes, cgroups=cgroups, **scalars)
        except (TypeError, ValueError, AttributeError) as error:
            raise NumaSourceError(f"not a HostSample dict: {error}") from error

    def node(self, node_id: int) -> NodeSample | None:
        """The node with this id, or None."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        return None


# --------------------------------------------------------------------------- parsing


def parse_cpulist(text: str) -> list[int]:
    """Parse the kernel's list format ("0-3,8-11", "0,2", "" for none) into CPU ids.

    Raises ValueError on malformed input; callers turn that into an unavailable entry.
    """
    cpus: list[int] = []
    text = text.strip()
    if not text:
        return cpus
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            # "0-15:4" stride syntax is accepted by the kernel on input only.
            low, high = int(first), int(last)
            if high < low:
                raise ValueError(f"range {part!r} runs backwards")
            cpus.extend(range(low, high + 1))
        else:
            cpus.append(int(part))
    return cpus


def _read_text(path: str) -> tuple[str | None, str | None]:
    """(content, None) or (None, reason). Never raises."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("ascii", "replace"), None
    except FileNotFoundError:
        return None, f"{path} missing"
    except PermissionError:
        return None, f"{path} not readable (permission denied)"
    except OSError as error:
        return None, f"{path} unreadable: {error.strerror or error}"


def _parse_key_value_lines(
    text: str, what: str, expected_fields: int = 2
) -> tuple[dict[str, int], str | None]:
    """Parse "key value" lines. Returns (parsed values, reason of first bad line or None)."""
    values: dict[str, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        parts = line.split()
        if len(parts) != expected_fields:
            return values, f"{what} truncated at line {line_number}"
        try:
            values[parts[0]] = int(parts[-1])
        except ValueError:
            return values, f"{what} has a non-numeric value at line {line_number}"
    if text and not text.endswith("\n"):
        # The kernel always ends these files with a newline; without one the
        # last line may be cut off mid-number, so it is not trusted.
        last_key = text.splitlines()[-1].split()[0]
        values.pop(last_key, None)
        return values, f"{what} truncated at line {len(text.splitlines())}"
    return values, None


def _parse_node_meminfo(text: str, node_id: int) -> tuple[dict[str, int], str | None]:
    """Parse "Node 0 MemTotal:  32823756 kB" lines (HugePages_* lines have no unit)."""
    values: dict[str, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        parts = line.split()
        # ["Node", "0", "MemTotal:", "32823756", "kB"]
        if len(parts) < 4 or parts[0] != "Node" or not parts[2].endswith(":"):
            return values, f"meminfo of node{node_id} malformed at line {line_number}"
        try:
            values[parts[2][:-1]] = int(parts[3])
        except ValueError:
            return values, f"meminfo of node{node_id} has a non-numeric value at line {line_number}"
    return values, None


def _parse_proc_stat(
    text: str,
) -> tuple[dict[str, int], dict[int, dict[str, int]], str | None]:
    """(host "cpu" line, per-CPU lines by id, reason or None) from /proc/stat."""
    host: dict[str, int] = {}
    per_cpu: dict[int, dict[str, int]] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("cpu"):
            # cpu lines come first; the rest (intr, ctxt...) is not needed.
            if per_cpu or host:
                break
            continue
        parts = line.split()
        if len(parts) < 1 + len(CPU_TIME_FIELDS):
            return host, per_cpu, f"/proc/stat truncated at line {line_number}"
        try:
            ticks = dict(zip(CPU_TIME_FIELDS, map(int, parts[1 : 1 + len(CPU_TIME_FIELDS)])))
        except ValueError:
            return host, per_cpu, f"/proc/stat has a non-numeric value at line {line_number}"
        name = parts[0]
        if name == "cpu":
            host = ticks
        else:
            try:
                per_cpu[int(name[3:])] = ticks
            except ValueError:
                return host, per_cpu, f"/proc/stat has a bad cpu name at line {line_number}"
    return host, per_cpu, None


# --------------------------------------------------------------------------- readers


def _read_nodes(sys_root: str, unavailable: dict[str, str]) -> list[NodeSample]:
    node_dir = os.path.join(sys_root, "devices", "system", "node")
    try:
        entries = os.listdir(node_dir)
    except FileNotFoundError:
        unavailable["nodes"] = "/sys/devices/system/node missing: kernel without NUMA"
        return []
    except OSError as error:
        unavailable["nodes"] = f"/sys/devices/system/node unreadable: {error.strerror}"
        return []
    node_ids = sorted(
        int(name[4:]) for name in entries if name.startswith("node") and name[4:].isdigit()
    )
    if not node_ids:
        unavailable["nodes"] = "/sys/devices/system/node has no nodeN directories"
    nodes: list[NodeSample] = []
    for node_id in node_ids:
        base = os.path.join(node_dir, f"node{node_id}")
        node = NodeSample(node_id=node_id)
        label = f"node{node_id}"

        text, reason = _read_text(os.path.join(base, "numastat"))
        if text is None:
            unavailable[f"{label}.numastat"] = reason or "unreadable"
        else:
            node.numastat, reason = _parse_key_value_lines(text, f"numastat of {label}")
            missing = [key for key in NUMASTAT_KEYS if key not in node.numastat]
            if reason:
                unavailable[f"{label}.numastat"] = reason
            elif missing:
                unavailable[f"{label}.numastat"] = (
                    f"numastat of {label} lacks {', '.join(missing)}"
                )

        text, reason = _read_text(os.path.join(base, "meminfo"))
        if text is None:
            unavailable[f"{label}.meminfo"] = reason or "unreadable"
        else:
            node.meminfo_kb, reason = _parse_node_meminfo(text, node_id)
            if reason:
                unavailable[f"{label}.meminfo"] = reason

        text, reason = _read_text(os.path.join(base, "cpulist"))
        if text is None:
            unavailable[f"{label}.cpulist"] = reason or "unreadable"
        else:
            try:
                node.cpus = parse_cpulist(text)
            except ValueError:
                unavailable[f"{label}.cpulist"] = f"cpulist of {label} malformed: {text.strip()!r}"

        text, reason = _read_text(os.path.join(base, "distance"))
        if text is None:
            unavailable[f"{label}.distance"] = reason or "unreadable"
        else:
            try:
                node.distance = [int(value) for value in text.split()]
            except ValueError:
                unavailable[f"{label}.distance"] = f"distance of {label} malformed"
            if node.distance and len(node.distance) != len(node_ids):
                unavailable[f"{label}.distance"] = (
                    f"distance of {label} has {len(node.distance)} entries for "
                    f"{len(node_ids)} nodes"
                )
        nodes.append(node)
    return nodes


def _read_vmstat(proc_root: str, unavailable: dict[str, str]) -> dict[str, int]:
    text, reason = _read_text(os.path.join(proc_root, "vmstat"))
    if text is None:
        unavailable["vmstat"] = reason or "unreadable"
        return {}
    counters: dict[str, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith(VMSTAT_COUNTER_PREFIXES):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            unavailable["vmstat"] = f"/proc/vmstat truncated at line {line_number}"
            break
        counters[parts[0]] = int(parts[1])
    else:
        if "numa_hit" not in counters:
            unavailable["vmstat.numa"] = "/proc/vmstat has no numa_* counters: kernel without NUMA"
        if "numa_hint_faults" not in counters:
            unavailable["vmstat.numa_balancing"] = (
                "/proc/vmstat has no numa_hint_faults: kernel without NUMA balancing"
            )
    return counters


def _read_int_file(path: str, metric: str, unavailable: dict[str, str]) -> int | None:
    text, reason = _read_text(path)
    if text is None:
        unavailable[metric] = reason or "unreadable"
        return None
    try:
        return int(text.strip())
    except ValueError:
        unavailable[metric] = f"{path} is not an integer: {text.strip()[:40]!r}"
        return None


def _parse_pid_stat(text: str) -> tuple[str, int, int | None] | None:
    """(comm, utime+stime ticks, last cpu) from /proc/PID/stat, None if malformed."""
    # comm may contain spaces and parentheses: split at the LAST ")".
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    comm = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state); utime/stime are fields 14/15, processor is 39.
    try:
        cpu_ticks = int(rest[11]) + int(rest[12])
    except (IndexError, ValueError):
        return None
    try:
        last_cpu: int | None = int(rest[36])
    except (IndexError, ValueError):
        last_cpu = None
    return comm, cpu_ticks, last_cpu


def _parse_pid_sched(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if not separator:
            continue
        key = key.strip()
        if key in PROCESS_SCHED_NUMA_KEYS:
            try:
                values[key] = int(float(value))
            except ValueError:
                continue
    return values


def _read_top_processes(
    proc_root: str, top_processes: int, unavailable: dict[str, str]
) -> list[ProcessSample]:
    candidates: list[tuple[int, int, str, int | None]] = []
    try:
        entries = os.listdir(proc_root)
    except OSError as error:
        unavailable["processes"] = f"{proc_root} unlistable: {error.strerror}"
        return []
    for name in entries:
        if not name.isdigit():
            continue
        text, _ = _read_text(os.path.join(proc_root, name, "stat"))
        if text is None:
            continue  # the process exited between listdir and open: normal
        parsed = _parse_pid_stat(text)
        if parsed is None:
            continue
        comm, cpu_ticks, last_cpu = parsed
        candidates.append((cpu_ticks, int(name), comm, last_cpu))
    candidates.sort(reverse=True)
    processes: list[ProcessSample] = []
    denied = 0
    for cpu_ticks, pid, comm, last_cpu in candidates[:top_processes]:
        process = ProcessSample(pid=pid, comm=comm, cpu_ticks=cpu_ticks, last_cpu=last_cpu)
        text, reason = _read_text(os.path.join(proc_root, str(pid), "sched"))
        if text is None:
            if reason and "permission" in reason:
                denied += 1
        else:
            process.sched_numa = _parse_pid_sched(text)
        processes.append(process)
    if denied:
        unavailable["processes.sched"] = (
            f"/proc/PID/sched not readable for {denied} of {len(processes)} processes "
            "(owned by another user)"
        )
    elif processes and not any(process.sched_numa for process in processes):
        unavailable["processes.sched"] = (
            "/proc/PID/sched has no NUMA fields: kernel without CONFIG_NUMA_BALANCING"
        )
    return processes


def _parse_numa_stat(text: str) -> dict[str, dict[int, int]]:
    """cgroup v2 memory.numa_stat: "anon N0=1024 N1=0" per line, values in bytes."""
    result: dict[str, dict[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        per_node: dict[int, int] = {}
        for part in parts[1:]:
            node, separator, value = part.partition("=")
            if separator and node.startswith("N"):
                try:
                    per_node[int(node[1:])] = int(value)
                except ValueError:
                    continue
        result[parts[0]] = per_node
    return result


def _read_cgroups(cgroup_root: str, unavailable: dict[str, str]) -> list[CgroupSample]:
    cgroups: list[CgroupSample] = []
    for directory, subdirectories, files in os.walk(cgroup_root):
        # Leaf cgroups are the containers/services; inner ones only aggregate them.
        if subdirectories or directory == cgroup_root or "memory.stat" not in files:
            continue
        relative = os.path.relpath(directory, cgroup_root)
        cgroup = CgroupSample(path=relative)
        text, reason = _read_text(os.path.join(directory, "memory.stat"))
        if text is None:
            unavailable[f"cgroup.{relative}.memory.stat"] = reason or "unreadable"
        else:
            stat, reason = _parse_key_value_lines(text, f"memory.stat of {relative}")
            cgroup.memory_stat = {
                key: value
                for key, value in stat.items()
                if key.startswith(CGROUP_MEMORY_STAT_PREFIXES)
            }
            if reason:
                unavailable[f"cgroup.{relative}.memory.stat"] = reason
        if "memory.numa_stat" in files:
            text, reason = _read_text(os.path.join(directory, "memory.numa_stat"))
            if text is not None:
                cgroup.numa_stat_bytes = _parse_numa_stat(text)
        else:
            unavailable[f"cgroup.{relative}.memory.numa_stat"] = (
                "memory.numa_stat missing: kernel older than 5.11 or without NUMA"
            )
        for file_name, attribute in (
            ("cpuset.cpus.effective", "cpus_effective"),
            ("cpuset.mems.effective", "mems_effective"),
        ):
            if file_name not in files:
                continue  # cpuset controller not enabled for this cgroup
            text, _ = _read_text(os.path.join(directory, file_name))
            if text is None:
                continue
            try:
                setattr(cgroup, attribute, parse_cpulist(text))
            except ValueError:
                unavailable[f"cgroup.{relative}.{file_name}"] = f"{file_name} malformed"
        cgroups.append(cgroup)
    return cgroups


# --------------------------------------------------------------------------- entry point


class SampleOptions(TypedDict, total=False):
    """collect_host_sample()'s arguments but cgroup_root, for callers that pass them on."""

    sys_root: str
    proc_root: str
    top_processes: int


def collect_host_sample(
    sys_root: str = "/sys",
    proc_root: str = "/proc",
    top_processes: int = 0,
    cgroup_root: str | None = None,
) -> HostSample:
    """Read one NUMA/CPU sample of this host (or of a fixture tree).

    top_processes: how many processes (by cumulative CPU time) to add with their
    /proc/PID/sched NUMA fields; 0 skips the /proc walk. cgroup_root (e.g.
    "/sys/fs/cgroup"): read every leaf cgroup v2 under it; None skips cgroups.
    """
    for name, root in (("sys_root", sys_root), ("proc_root", proc_root)):
        if not os.path.isdir(root):
            raise NumaSourceError(f"{name} {root!r} is not a directory")
    if cgroup_root is not None and not os.path.isdir(cgroup_root):
        raise NumaSourceError(f"cgroup_root {cgroup_root!r} is not a directory")
    if not isinstance(top_processes, int) or top_processes < 0:
        raise NumaSourceError(f"top_processes must be an int >= 0, got {top_processes!r}")

    monotonic_s = time.monotonic()
    wall_time_s = time.time()
    unavailable: dict[str, str] = {}

    hostname_text, _ = _read_text(os.path.join(proc_root, "sys", "kernel", "hostname"))
    hostname = hostname_text.strip() if hostname_text else socket.gethostname()
    boot_id_text, reason = _read_text(
        os.path.join(proc_root, "sys", "kernel", "random", "boot_id")
    )
    boot_id = boot_id_text.strip() if boot_id_text else None
    if boot_id is None:
        unavailable["boot_id"] = f"{reason}: reboots can only be detected by counters going down"

    numa_balancing = _read_int_file(
        os.path.join(proc_root, "sys", "kernel", "numa_balancing"),
        "numa_balancing",
        unavailable,
    )

    nodes = _read_nodes(sys_root, unavailable)
    vmstat = _read_vmstat(proc_root, unavailable)

    host_cpu_ticks: dict[str, int] = {}
    online_cpus = 0
    stat_text, reason = _read_text(os.path.join(proc_root, "stat"))
    if stat_text is None:
        unavailable["cpu"] = reason or "unreadable"
    else:
        host_cpu_ticks, per_cpu, reason = _parse_proc_stat(stat_text)
        if reason:
            unavailable["cpu"] = reason
        online_cpus = len(per_cpu)
        for node in nodes:
            totals = dict.fromkeys(CPU_TIME_FIELDS, 0)
            for cpu in node.cpus:
                ticks = per_cpu.get(cpu)
                if ticks is None:
                    continue  # offline CPU: /proc/stat omits it
                for key in CPU_TIME_FIELDS:
                    totals[key] += ticks[key]
            node.cpu_ticks = totals if node.cpus else {}

    processes = (
        _read_top_processes(proc_root, top_processes, unavailable) if top_processes else []
    )
    cgroups = _read_cgroups(cgroup_root, unavailable) if cgroup_root is not None else []

    return HostSample(
        monotonic_s=monotonic_s,
        wall_time_s=wall_time_s,
        hostname=hostname,
        boot_id=boot_id,
        user_hz=os.sysconf("SC_CLK_TCK"),
        page_size_bytes=os.sysconf("SC_PAGE_SIZE"),
        numa_balancing=numa_balancing,
        nodes=nodes,
        vmstat=vmstat,
        host_cpu_ticks=host_cpu_ticks,
        online_cpus=online_cpus,
        processes=processes,
        cgroups=cgroups,
        unavailable=unavailable,
    )
