"""The demo's two migrations, side by side on one dashboard (idempotent; runs first).

The won deposits move off the PostgreSQL ledger (reads, writes, reconciliation); the foreign-currency
deposits off the MariaDB fx ledger (writes, reconciliation). A demo database from before migrations
existed has everything under "default": that one becomes the won deposits, nothing is lost.
"""

from __future__ import annotations

from console.demo import FX_MIGRATION, WON_MIGRATION
from console.models import DEFAULT_MIGRATION_SLUG, Migration

DESCRIPTIONS = {
    WON_MIGRATION: ("Won deposits", "Core won ledger (PostgreSQL): reads, writes, midnight reconciliation"),
    FX_MIGRATION: ("FX deposits", "Foreign-currency deposits (MariaDB): writes, midnight reconciliation"),
}


def demo_migration(slug: str) -> Migration:
    """One of the demo's migrations, both made first if missing (each setup step may run alone)."""
    if Migration.objects.filter(slug__in=DESCRIPTIONS).count() < len(DESCRIPTIONS):
        ensure_demo_migrations()
    return Migration.objects.get(slug=slug)


def ensure_demo_migrations() -> None:
    if not Migration.objects.filter(slug=WON_MIGRATION).exists():
        Migration.objects.filter(slug=DEFAULT_MIGRATION_SLUG).update(slug=WON_MIGRATION)
    for slug, (name, description) in DESCRIPTIONS.items():
        Migration.objects.update_or_create(slug=slug, defaults={"name": name, "description": description})


def setup_demo(command) -> None:
    ensure_demo_migrations()
    command.stdout.write(f"migrations: {', '.join(DESCRIPTIONS)}")
