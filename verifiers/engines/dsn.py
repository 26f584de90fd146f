"""Which engine a DSN names (kept apart from the package so the engine modules need not
import it back)."""

from __future__ import annotations

from urllib.parse import urlsplit

POSTGRESQL = "postgresql"
MYSQL = "mysql"
SCHEMES = {"postgres": POSTGRESQL, "postgresql": POSTGRESQL, "mysql": MYSQL, "mariadb": MYSQL}


class EngineError(Exception):
    """A database the console reads is unsupported or unreachable (one sentence)."""


def dialect_of(dsn: str) -> str:
    """'postgresql' or 'mysql' from the DSN's scheme; a key=value conninfo is PostgreSQL."""
    if "://" not in dsn:
        return POSTGRESQL
    scheme = urlsplit(dsn).scheme.lower()
    if scheme not in SCHEMES:
        raise EngineError(
            f"unsupported database scheme {scheme!r}: use postgresql:// or mysql://"
        )
    return SCHEMES[scheme]
