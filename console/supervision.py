"""What the launcher needs to supervise processes, as pure logic: the Procfile's process
definitions and the restart back-off.

A crashed child is restarted after a delay that starts at 1 s and doubles on each crash in a row up
to 30 s, so a process that cannot start (a bad setting, a service down) does not spin; a child that
ran for 60 s or more before it died counts as healthy again and is restarted after 1 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
_PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>\S.*)$")


class ProcfileError(ValueError):
    """A Procfile line that is not `name: command` (the message gives the line number)."""


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    name: str
    command: str  # a shell command line, as honcho and foreman run it


def parse_procfile(text: str) -> list[ProcessDefinition]:
    """The definitions in a Procfile's text, in order; blank lines and # comments are skipped."""
    definitions: list[ProcessDefinition] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _PROCFILE_LINE.match(stripped)
        if not match:
            raise ProcfileError(f"Procfile line {number} is not 'name: command': {stripped!r}")
        if match["name"] in seen:
            raise ProcfileError(f"Procfile line {number} defines {match['name']!r} a second time")
        seen.add(match["name"])
        definitions.append(ProcessDefinition(match["name"], match["command"].strip()))
    return definitions


def read_procfile(path: Path = PROCFILE) -> list[ProcessDefinition]:
    return parse_procfile(path.read_text())


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0
    healthy_after_s: float = 60.0  # a child up this long has recovered: back to the initial delay


def next_restart_delay(previous_delay_s: float | None, uptime_s: float,
                       policy: RestartPolicy = RestartPolicy()) -> float:
    """Seconds to wait before restarting a child that exited after `uptime_s` seconds up.

    `previous_delay_s` is the delay used before the run that just ended (None: it was the first).
    """
    if previous_delay_s is None or uptime_s >= policy.healthy_after_s:
        return policy.initial_delay_s
    return min(previous_delay_s * 2, policy.max_delay_s)


def restart_message(name: str, exit_code: int, delay_s: float) -> str:
    """What the launcher says when it restarts a child (a negative code is the killing signal)."""
    return f"restarting {name} after exit code {exit_code} in {delay_s:g} s"
