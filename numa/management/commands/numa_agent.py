"""Collect this host's NUMA counters every N seconds and POST them to the console's API.

The alternative to a Celery worker on the host:
    manage.py numa_agent --console https://console.example.bank --token T [--interval 10]
Needs no database: only the console URL and an API token of a 'Machine clients' user.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from numa.extras import probe_extras
from numa.sources import collect_host_sample

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


def build_body(
    sys_root: str, proc_root: str, work_total: float | None, with_extras: bool
) -> dict[str, Any]:
    from numa.services import extras_as_dict

    body: dict[str, Any] = {
        "sample": collect_host_sample(sys_root=sys_root, proc_root=proc_root).to_dict()
    }
    if work_total is not None:
        body["work_total"] = work_total
    if with_extras:
        body["extras"] = extras_as_dict(probe_extras())
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
        **options: Any,
    ) -> None:
        if interval <= 0:
            raise CommandError(f"--interval must be positive, got {interval}")
        if not console.startswith(("http://", "https://")):
            raise CommandError(f"--console must be an http(s) URL, got {console!r}")
        sent = 0
        last_probe = float("-inf")
        next_at = time.monotonic()
        while count <= 0 or sent < count:
            with_extras = time.monotonic() - last_probe >= EXTRAS_PROBE_EVERY_S
            body = build_body(sys_root, proc_root, read_work_total(work_file), with_extras)
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
