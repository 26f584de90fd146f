"""Collect this host's NUMA counters every N seconds and POST them to the console's API.

The alternative to a Celery worker on the host:
    manage.py numa_agent --console https://console.example.bank --token T [--interval 10]
        [--top-processes 5] [--cgroup-root /sys/fs/cgroup|off] [--kubelet-configz URL|PATH]
Needs no database: only the console URL and an API token of a 'Machine clients' user.
Defaults come from the NUMA_* environment (numa/conf.py). Once an hour the body also carries
the short eBPF/perf measurement and the kubelet's policies (under extras.kubelet_configz).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from numa.conf import (
    CGROUP_OFF_WORDS,
    MAX_TOP_PROCESSES,
    NumaConfigError,
    cgroup_root,
    numa_count_setting,
    numa_setting,
    numa_text_setting,
)
from numa.extras import measure_extras, probe_extras
from numa.kubelet import read_kubelet_policies
from numa.placement import collect_configured_sample, sample_as_dict
from numa.samples import KUBELET_EXTRA_NAME, extras_from_measurements

SAMPLES_PATH = "/api/v1/numa/samples"
HTTP_TIMEOUT_S = 10.0
EXTRAS_PROBE_EVERY_S = 3600.0


class AgentPostError(RuntimeError):
    """The console refused a sample (4xx: fix the agent) or could not be reached."""


def post_sample(
    console_url: str, token: str, body: dict[str, Any], timeout: float = HTTP_TIMEOUT_S
) -> dict[str, Any]:
    """POST one sample body; returns the console's JSON answer or raises AgentPostError."""
    request = urllib.request.Request(
        console_url.rstrip("/") + SAMPLES_PATH,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode("utf-8", "replace")
        raise AgentPostError(f"console answered {error.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise AgentPostError(f"console unreachable: {getattr(error, 'reason', error)}") from None


def hourly_extras(
    *, extras_seconds: float, kubelet_source: str, token_file: str | None, ca_file: str | None
) -> dict[str, Any]:
    """The hourly part of a body: measured eBPF/perf extras plus the kubelet reading."""
    extras = extras_from_measurements(measure_extras(seconds=extras_seconds), probe_extras())
    extras[KUBELET_EXTRA_NAME] = read_kubelet_policies(
        kubelet_source, token_file=token_file, ca_file=ca_file
    ).to_dict()
    return extras


def build_body(
    sys_root: str,
    proc_root: str,
    work_total: float | None,
    extras: dict[str, Any] | None,
    *,
    top_processes: int = 0,
    cgroup_root: str | None = None,
) -> dict[str, Any]:
    """One POST body: the sample, the work counter when known, the hourly extras when due."""
    sample = collect_configured_sample(
        sys_root=sys_root,
        proc_root=proc_root,
        top_processes=top_processes,
        cgroup_root=cgroup_root,
    )
    body: dict[str, Any] = {"sample": sample_as_dict(sample)}
    if work_total is not None:
        body["work_total"] = work_total
    if extras is not None:
        body["extras"] = extras
    return body


def read_work_total(path: str | None) -> float | None:
    """The host's cumulative work counter from a file a service keeps updated (optional)."""
    if not path:
        return None
    try:
        with open(path) as handle:
            return float(handle.read().strip())
    except (OSError, ValueError):
        return None


class Command(BaseCommand):
    help = __doc__
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--console", required=True, help="Base URL of the console, e.g. http://127.0.0.1:8000"
        )
        parser.add_argument("--token", required=True, help="API token (Machine clients user)")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="Seconds between samples (default 10)"
        )
        parser.add_argument(
            "--count", type=int, default=0, help="Stop after this many samples (0: run forever)"
        )
        parser.add_argument(
            "--work-file", default=None, help="File holding a cumulative work counter (optional)"
        )
        parser.add_argument("--sys-root", default="/sys")
        parser.add_argument("--proc-root", default="/proc")
        parser.add_argument(
            "--top-processes",
            type=int,
            default=None,
            help="Top processes by CPU read with their NUMA fields (default NUMA_TOP_PROCESSES, 5)",
        )
        parser.add_argument(
            "--cgroup-root",
            default=None,
            help="cgroup v2 root read per container, or 'off' (default NUMA_CGROUP_ROOT, else "
            "/sys/fs/cgroup when it is cgroup v2)",
        )
        parser.add_argument(
            "--kubelet-configz",
            default=None,
            help="Kubelet configz URL or JSON file (default NUMA_KUBELET_CONFIGZ_URL)",
        )
        parser.add_argument(
            "--kubelet-token-file", default=None, help="default NUMA_KUBELET_TOKEN_FILE"
        )
        parser.add_argument("--kubelet-ca-file", default=None, help="default NUMA_KUBELET_CA_FILE")
        parser.add_argument(
            "--extras-seconds",
            type=float,
            default=None,
            help="Length of the hourly eBPF/perf measurement (default NUMA_EXTRAS_SECONDS, 2)",
        )

    def handle(
        self,
        *args: Any,
        console: str,
        token: str,
        interval: float,
        count: int,
        work_file: str | None,
        sys_root: str,
        proc_root: str,
        top_processes: int | None = None,
        cgroup_root: str | None = None,
        kubelet_configz: str | None = None,
        kubelet_token_file: str | None = None,
        kubelet_ca_file: str | None = None,
        extras_seconds: float | None = None,
        **options: Any,
    ) -> None:
        if interval <= 0:
            raise CommandError(f"--interval must be positive, got {interval}")
        if not console.startswith(("http://", "https://")):
            raise CommandError(f"--console must be an http(s) URL, got {console!r}")
        try:
            top_processes = (
                numa_count_setting("NUMA_TOP_PROCESSES") if top_processes is None else top_processes
            )
            seconds = (
                float(numa_setting("NUMA_EXTRAS_SECONDS"))
                if extras_seconds is None
                else extras_seconds
            )
            cgroups = _cgroup_root_option(cgroup_root)
        except NumaConfigError as error:
            raise CommandError(str(error)) from None
        if not 0 <= top_processes <= MAX_TOP_PROCESSES:
            raise CommandError(
                f"--top-processes must be 0..{MAX_TOP_PROCESSES}, got {top_processes}"
            )
        if not seconds > 0:
            raise CommandError(f"--extras-seconds must be positive, got {seconds}")
        kubelet_source = (
            numa_text_setting("NUMA_KUBELET_CONFIGZ_URL")
            if kubelet_configz is None
            else kubelet_configz
        )
        token_file = kubelet_token_file or numa_text_setting("NUMA_KUBELET_TOKEN_FILE") or None
        ca_file = kubelet_ca_file or numa_text_setting("NUMA_KUBELET_CA_FILE") or None
        sent = 0
        last_probe = float("-inf")
        next_at = time.monotonic()
        while count <= 0 or sent < count:
            with_extras = time.monotonic() - last_probe >= EXTRAS_PROBE_EVERY_S
            extras = (
                hourly_extras(
                    extras_seconds=seconds,
                    kubelet_source=kubelet_source,
                    token_file=token_file,
                    ca_file=ca_file,
                )
                if with_extras
                else None
            )
            body = build_body(
                sys_root,
                proc_root,
                read_work_total(work_file),
                extras,
                top_processes=top_processes,
                cgroup_root=cgroups,
            )
            try:
                answer = post_sample(console, token, body)
                if with_extras:
                    last_probe = time.monotonic()
                self.stdout.write(
                    f"sample {answer.get('sampled_at')} stored={answer.get('created')}"
                )
            except AgentPostError as error:
                # A refused token will not heal by retrying; a network error or one bad sample may.
                if " answered 401" in str(error) or " answered 403" in str(error):
                    raise CommandError(str(error)) from None
                self.stderr.write(str(error))
            sent += 1
            next_at += interval
            if count <= 0 or sent < count:
                time.sleep(max(0.0, next_at - time.monotonic()))


def _cgroup_root_option(option: str | None) -> str | None:
    """--cgroup-root as given ('off' turns it off), else the NUMA_CGROUP_ROOT default."""
    if option is None:
        return cgroup_root()
    if option.strip().lower() in CGROUP_OFF_WORDS:
        return None
    return option
