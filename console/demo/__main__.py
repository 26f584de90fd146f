"""Command line of the demo world: `python -m console.demo COMMAND`.

init-ledger, inject-drift, check-invariant (ledger database); legacy, candidate, traffic (one
piece each); run (ledger init + both services + traffic in one process, for the launcher);
bench-reads (prints a service's read throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from console.demo import (
    BIND_HOST,
    DEFAULT_CANDIDATE_PORT,
    DEFAULT_LEDGER_URL,
    DEFAULT_LEGACY_PORT,
    DemoWorldError,
)
from console.demo.candidate import create_candidate_app
from console.demo.fx_ledger import FxConsole, run_fx_writers
from console.demo.legacy import DEFAULT_POOL_MAX_SIZE, create_legacy_app, start_app
from console.demo.schema import (
    DEFAULT_ACCOUNT_COUNT,
    accounts_breaking_invariant,
    init_ledger,
    inject_drift,
)
from console.demo.traffic import (
    TrafficConfig,
    load_account_book,
    measure_read_throughput,
    run_traffic,
)

DEFAULT_CONSOLE_URL = "http://127.0.0.1:8000"


def _stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _serve_until_stopped(
    starters: list[tuple[str, Callable[[], web.Application], int]],
    extra: Callable[[asyncio.Event], Awaitable[object]] | None = None,
    reuse_port: bool = False,
) -> None:
    stop = _stop_event_on_signals()
    runners: list[web.AppRunner] = []
    try:
        for name, make_app, port in starters:
            runners.append(
                await start_app(make_app(), host=BIND_HOST, port=port, reuse_port=reuse_port)
            )
            print(f"demo {name}: http://{BIND_HOST}:{port} (pid {os.getpid()})", flush=True)
        if extra is not None:
            await extra(stop)
        else:
            await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def _traffic_config(args: argparse.Namespace, legacy_url: str, candidate_url: str) -> TrafficConfig:
    return TrafficConfig(
        legacy_url=legacy_url,
        candidate_url=candidate_url,
        console_url=args.console_url.rstrip("/"),
        token=args.token,
        rate=args.rate,
        seed=args.seed,
    )


def cmd_init_ledger(args: argparse.Namespace) -> int:
    summary = init_ledger(args.ledger_url, reset=args.reset, account_count=args.accounts)
    print(
        f"ledger {'created' if summary.created_database else 'exists'}, "
        f"{'seeded' if summary.seeded else 'kept'}: {summary.accounts} accounts, "
        f"{summary.entries} entries"
    )
    return 0


def cmd_inject_drift(args: argparse.Namespace) -> int:
    balance = inject_drift(args.ledger_url, args.account, args.amount)
    print(f"account {args.account}: balance now {balance} (no entry written)")
    return 0


def cmd_check_invariant(args: argparse.Namespace) -> int:
    breaks = accounts_breaking_invariant(args.ledger_url)
    for item in breaks:
        print(
            f"account {item.account_id}: balance {item.balance},"
            f" entries say {item.expected_balance}"
        )
    print(f"{len(breaks)} account(s) break balance = opening_balance + sum(entries)")
    return 1 if breaks else 0


def cmd_service(args: argparse.Namespace) -> int:
    """Serve one service; --workers N runs N processes sharing the port (SO_REUSEPORT)."""
    make_app = create_legacy_app if args.command == "legacy" else create_candidate_app
    children: list[subprocess.Popen[bytes]] = []
    if args.workers > 1:
        argv = [
            sys.executable,
            "-m",
            "console.demo",
            args.command,
            "--port",
            str(args.port),
            "--ledger-url",
            args.ledger_url,
            "--pool-size",
            str(args.pool_size),
            "--reuse-port",
        ]
        children = [subprocess.Popen(argv) for _ in range(args.workers - 1)]
    try:
        asyncio.run(
            _serve_until_stopped(
                [
                    (
                        args.command,
                        lambda: make_app(args.ledger_url, pool_max_size=args.pool_size),
                        args.port,
                    )
                ],
                reuse_port=args.reuse_port or args.workers > 1,
            )
        )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)
    return 0


def cmd_traffic(args: argparse.Namespace) -> int:
    config = _traffic_config(args, args.legacy_url.rstrip("/"), args.candidate_url.rstrip("/"))

    async def main() -> None:
        stats = await run_traffic(
            config,
            ledger_url=args.ledger_url,
            stop=_stop_event_on_signals(),
            duration_s=args.duration,
        )
        print(stats.status_line(), flush=True)

    asyncio.run(main())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not args.no_init:
        summary = init_ledger(args.ledger_url)
        print(f"demo ledger: {summary.accounts} accounts, {summary.entries} entries", flush=True)
    legacy_url = f"http://{BIND_HOST}:{args.legacy_port}"
    candidate_url = f"http://{BIND_HOST}:{args.candidate_port}"
    config = _traffic_config(args, legacy_url, candidate_url)

    async def traffic(stop: asyncio.Event) -> None:
        if not args.fx_ledger_url:
            stats = await run_traffic(config, ledger_url=args.ledger_url, stop=stop)
            print(stats.status_line(), flush=True)
            return
        # The fx deposit ledger (MariaDB, created by setup_demo) stays live beside the transfers;
        # with a console, each fx write is shadowed by the candidate and checked there too.
        fx_console = FxConsole(config.console_url, config.token) if config.console_url else None
        stats, fx = await asyncio.gather(
            run_traffic(config, ledger_url=args.ledger_url, stop=stop),
            run_fx_writers(args.fx_ledger_url, rate=max(0.5, args.rate / 10), stop=stop, seed=args.seed,
                           console=fx_console),
        )
        print(f"{stats.status_line()}; fx deposits: {fx.commits} committed, {fx.captures_sent} captures sent",
              flush=True)

    asyncio.run(
        _serve_until_stopped(
            [
                ("legacy", lambda: create_legacy_app(args.ledger_url), args.legacy_port),
                ("candidate", lambda: create_candidate_app(args.ledger_url), args.candidate_port),
            ],
            extra=traffic,
        )
    )
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((BIND_HOST, 0))
        return int(sock.getsockname()[1])


def cmd_bench_reads(args: argparse.Namespace) -> int:
    """Start the service in a child process (its own core) and print its read throughput."""
    port = _free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console.demo",
            args.service,
            "--port",
            str(port),
            "--ledger-url",
            args.ledger_url,
            "--pool-size",
            str(args.pool_size),
            "--workers",
            str(args.workers),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as sock:
                if sock.connect_ex((BIND_HOST, port)) == 0:
                    break
            if time.monotonic() > deadline or child.poll() is not None:
                raise DemoWorldError(f"the {args.service} service did not start on port {port}")
            time.sleep(0.1)

        async def main() -> None:
            ids = (await load_account_book(args.ledger_url)).all_ids
            for run in range(1, args.runs + 1):
                figures = await measure_read_throughput(
                    f"http://{BIND_HOST}:{port}",
                    ids,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                )
                print(
                    f"{args.service} run {run}: "
                    + ", ".join(f"{k}={v:.1f}" for k, v in figures.items()),
                    flush=True,
                )

        asyncio.run(main())
    finally:
        child.terminate()
        child.wait(10)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m console.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--ledger-url",
        default=DEFAULT_LEDGER_URL,
        help="ledger database DSN (the launcher passes DEMO_LEDGER_URL)",
    )
    traffic_options = argparse.ArgumentParser(add_help=False)
    traffic_options.add_argument("--rate", type=float, default=20.0, help="requests per second")
    traffic_options.add_argument(
        "--console-url",
        default=DEFAULT_CONSOLE_URL,
        help="console base URL; '' runs without mirroring",
    )
    traffic_options.add_argument(
        "--token",
        default="",
        help="console API token",
    )
    traffic_options.add_argument(
        "--seed", type=int, default=None, help="random seed of the traffic"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser(
        "init-ledger", parents=[common], help="create the ledger database and seed"
    )
    init.add_argument("--reset", action="store_true", help="drop and rebuild the ledger tables")
    init.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNT_COUNT)
    init.set_defaults(handler=cmd_init_ledger)

    drift = sub.add_parser(
        "inject-drift",
        parents=[common],
        help="change one balance without an entry (reconciliation demo)",
    )
    drift.add_argument("--account", type=int, required=True)
    drift.add_argument("--amount", required=True, help="decimal amount added to the balance")
    drift.set_defaults(handler=cmd_inject_drift)

    check = sub.add_parser(
        "check-invariant",
        parents=[common],
        help="list accounts whose balance != opening + entries (exit 1 if any)",
    )
    check.set_defaults(handler=cmd_check_invariant)

    for name, port in (("legacy", DEFAULT_LEGACY_PORT), ("candidate", DEFAULT_CANDIDATE_PORT)):
        service = sub.add_parser(name, parents=[common], help=f"serve the {name} ledger")
        service.add_argument("--port", type=int, default=port)
        service.add_argument("--pool-size", type=int, default=DEFAULT_POOL_MAX_SIZE)
        service.add_argument("--workers", type=int, default=1, help="processes sharing the port")
        service.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
        service.set_defaults(handler=cmd_service)

    traffic = sub.add_parser("traffic", parents=[common, traffic_options], help="send demo traffic")
    traffic.add_argument("--legacy-url", default=f"http://{BIND_HOST}:{DEFAULT_LEGACY_PORT}")
    traffic.add_argument("--candidate-url", default=f"http://{BIND_HOST}:{DEFAULT_CANDIDATE_PORT}")
    traffic.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    traffic.set_defaults(handler=cmd_traffic)

    run = sub.add_parser(
        "run",
        parents=[common, traffic_options],
        help="init the ledger if needed, serve legacy + candidate, send traffic",
    )
    run.add_argument("--legacy-port", type=int, default=DEFAULT_LEGACY_PORT)
    run.add_argument("--candidate-port", type=int, default=DEFAULT_CANDIDATE_PORT)
    run.add_argument("--no-init", action="store_true", help="do not create/seed a missing ledger")
    run.add_argument("--fx-ledger-url", default="",
                     help="MariaDB/MySQL fx deposit ledger (setup_demo creates it) kept live by writers; '' = none")
    run.set_defaults(handler=cmd_run)

    bench = sub.add_parser(
        "bench-reads", parents=[common], help="print a service's read throughput"
    )
    bench.add_argument("--service", choices=("legacy", "candidate"), default="candidate")
    bench.add_argument("--seconds", type=float, default=5.0)
    bench.add_argument("--concurrency", type=int, default=32)
    bench.add_argument("--pool-size", type=int, default=DEFAULT_POOL_MAX_SIZE)
    bench.add_argument("--runs", type=int, default=3)
    bench.add_argument("--workers", type=int, default=1, help="service processes")
    bench.set_defaults(handler=cmd_bench_reads)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except DemoWorldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
