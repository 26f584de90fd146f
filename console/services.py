"""Reachability of the services the console needs, as one clear sentence each.

No Django here: the launcher uses it before Django starts, and /healthz uses it after.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import psycopg
import redis


def describe_address(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost (socket)"
    port = parts.port or {"redis": 6379, "rediss": 6379}.get(parts.scheme, 5432)
    database = parts.path.lstrip("/") or "(default)"
    return f"{host}:{port}, database {database}"


def postgres_problem(url: str, setting: str = "DATABASE_URL", timeout_s: int = 3) -> str | None:
    """None if PostgreSQL answers at `url`, else a sentence naming the setting and the address."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        return f"{setting}: cannot use PostgreSQL at {describe_address(url)}: {reason}"
    except Exception as error:  # noqa: BLE001 - malformed URLs raise ProgrammingError/ValueError
        return f"{setting}: {url!r} is not a usable PostgreSQL URL: {error}"
    return None


def redis_problem(url: str, setting: str = "REDIS_URL", timeout_s: float = 2.0) -> str | None:
    """None if Redis answers PING at `url`, else a sentence naming the setting and the address."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        client.ping()
        client.close()
    except redis.RedisError as error:
        return f"{setting}: cannot reach Redis at {describe_address(url)}: {error}"
    except ValueError as error:
        return f"{setting}: {url!r} is not a usable Redis URL: {error}"
    return None


def url_for_database(url: str, database: str) -> str:
    """`url` (a PostgreSQL URL such as DATABASE_URL) naming another database on the same server."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def mysql_problem(url: str, setting: str = "MYSQL_URL", timeout_s: float = 2.0) -> str | None:
    """None if a MySQL/MariaDB server greets us at `url`, else a sentence naming the setting.

    Reads the server's greeting packet only (no driver, no login): enough to tell a server that
    answers from nothing, a refusal (e.g. host not allowed) or another service on the port.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        return f"{setting}: {url!r} is not a mysql:// URL"
    host, port = parts.hostname or "127.0.0.1", parts.port or 3306
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            header = _receive_exactly(sock, 4)
            payload = _receive_exactly(sock, int.from_bytes(header[:3], "little"))
    except OSError as error:
        return f"{setting}: cannot reach MySQL/MariaDB at {host}:{port}: {error}"
    if payload[:1] == b"\xff":  # error packet: 0xff, 2-byte code, message
        return f"{setting}: MySQL/MariaDB at {host}:{port} refused us: {payload[3:].decode(errors='replace')}"
    if payload[:1] != b"\x0a":  # protocol version 10 starts every greeting
        return f"{setting}: what answers at {host}:{port} is not MySQL/MariaDB"
    return None
