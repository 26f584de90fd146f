"""The read verifier's configuration as a worker holds it: routes and systems, prepared once (no Django).

Built from the database by verifiers.read.selectors.verifier_config and refreshed periodically by
the verify_reads workers (verifiers.read.pipeline); a module of its own so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from verifiers.groups.fingerprint import route_template
from verifiers.read.compare import CompiledRules, compile_rules
from verifiers.read.replay import SystemTarget

DEFAULT_SEVERITY = "medium"


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """A Route row prepared for the hot path (rules compiled once)."""

    route_id: int | None
    method: str
    template: str
    enabled: bool = True
    sampling_ratio: float = 1.0
    active_from: clock_time | None = None
    active_until: clock_time | None = None
    severity: str = DEFAULT_SEVERITY
    rules: CompiledRules = field(default_factory=compile_rules)
    noise_rules: CompiledRules = field(default_factory=compile_rules)  # rules without ignore_paths
    ignore_paths: tuple[str, ...] = ()
    migration_id: int | None = None  # the route's migration (None: the console's only one)

    @property
    def subject(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(slots=True)
class VerifierConfig:
    """Systems and routes as the worker sees them (refreshed from the database periodically)."""

    candidate: SystemTarget | None
    secondary: SystemTarget | None
    routes: dict[tuple[str, str], RouteSettings]
    time_zone: ZoneInfo
    default_rules: CompiledRules = field(default_factory=compile_rules)
    migration_id: int | None = None  # the migration these systems and routes belong to
    migration_name: str = ""

    @property
    def templates(self) -> tuple[str, ...]:
        return tuple(sorted({template for _, template in self.routes}))

    def route_for(self, method: str, path: str) -> RouteSettings:
        template = route_template(path, self.templates)
        found = self.routes.get((method, template))
        if found is None:  # unconfigured route: verified with default rules
            found = RouteSettings(None, method, template, rules=self.default_rules,
                                  noise_rules=self.default_rules, migration_id=self.migration_id)
        return found


class UnknownMigrationError(ValueError):
    """A sample names a migration the console does not have, or none when it has several."""


@dataclass(slots=True)
class ProgrammeReadConfig:
    """Every migration's read configuration, by slug: a sample is judged by its own migration's."""

    by_slug: dict[str, VerifierConfig]
    time_zone: ZoneInfo

    def for_sample(self, slug: str | None) -> VerifierConfig:
        """The configuration of migration `slug`; unnamed only when the console has one (or none yet)."""
        if slug is None:
            if len(self.by_slug) == 1:
                return next(iter(self.by_slug.values()))
            if not self.by_slug:  # no migration yet: nothing configured, samples wait for a candidate
                return VerifierConfig(candidate=None, secondary=None, routes={}, time_zone=self.time_zone)
            raise UnknownMigrationError(f"the sample names no migration, and the console has several: "
                                        f"{', '.join(sorted(self.by_slug))}")
        found = self.by_slug.get(slug)
        if found is None:
            raise UnknownMigrationError(f"the sample names unknown migration {slug!r}; known: "
                                        f"{', '.join(sorted(self.by_slug)) or 'none'}")
        return found
