"""Reads of the read verifier: worker configuration, totals, noise suggestions (rates: verifiers.selectors)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.timezone import get_default_timezone

from console.models import Migration
from verifiers.models import NoiseSuggestion, OutcomeCount, Route, System
from verifiers.read.compare import compile_rules
from verifiers.read.config import ProgrammeReadConfig, RouteSettings, VerifierConfig
from verifiers.read.replay import SystemTarget

_compiled_cache: dict[bytes, Any] = {}


def _compiled(rules: dict[str, Any]):
    """Compile each distinct rule set once per process (routes often share rules)."""
    key = orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)
    if key not in _compiled_cache:
        _compiled_cache[key] = compile_rules(rules)
    return _compiled_cache[key]


def system_target(system: System) -> SystemTarget:
    return SystemTarget(name=system.name, base_url=system.base_url, timeout_ms=system.timeout_ms,
                        max_concurrency=system.max_concurrency, headers_to_add=dict(system.headers_to_add or {}),
                        max_response_bytes=settings.READ_MAX_RESPONSE_BYTES)


def active_system(role: str, migration_id: int | None = None) -> System | None:
    systems = System.objects.filter(role=role, enabled=True)
    if migration_id is not None:
        systems = systems.filter(migration_id=migration_id)
    return systems.order_by("name").first()


def _route_settings(route: Route) -> RouteSettings:
    rules = dict(route.rules or {})
    ignore_paths = tuple(rules.get("ignore_paths", ()))
    body_ignores = [p for p in ignore_paths if not p.startswith("$")]
    noise_rules = {**rules, "ignore_paths": body_ignores}
    return RouteSettings(
        route_id=route.pk, method=route.method.upper(), template=route.template, enabled=route.enabled,
        sampling_ratio=route.sampling_ratio, active_from=route.active_from, active_until=route.active_until,
        severity=route.severity, rules=_compiled(rules), noise_rules=_compiled(noise_rules),
        ignore_paths=ignore_paths, migration_id=route.migration_id,
    )


def verifier_config(migration_id: int | None = None) -> VerifierConfig:
    """One migration's systems and routes (None: the console's only one; UnknownMigrationError with several)."""
    return verifier_configs(migration_ids=None if migration_id is None else [migration_id]).for_sample(None)


def verifier_configs(*, migration_ids: list[int] | None = None) -> ProgrammeReadConfig:
    """What a worker needs, per migration, read once and refreshed every few seconds."""
    migrations = Migration.objects.all() if migration_ids is None else Migration.objects.filter(pk__in=migration_ids)
    candidates: dict[int | None, System] = {}
    secondaries: dict[int | None, System] = {}
    for system in System.objects.filter(enabled=True, role__in=[System.Role.CANDIDATE, System.Role.LEGACY_SECONDARY],
                                        migration__in=migrations).order_by("name"):
        chosen = candidates if system.role == System.Role.CANDIDATE else secondaries
        chosen.setdefault(system.migration_id, system)
    routes: dict[int | None, dict[tuple[str, str], RouteSettings]] = {}
    for route in Route.objects.filter(migration__in=migrations):
        routes.setdefault(route.migration_id, {})[(route.method.upper(), route.template)] = _route_settings(route)
    time_zone = get_default_timezone()
    by_slug = {}
    for migration in migrations:
        candidate, secondary = candidates.get(migration.pk), secondaries.get(migration.pk)
        by_slug[migration.slug] = VerifierConfig(
            candidate=system_target(candidate) if candidate else None,
            secondary=system_target(secondary) if secondary else None,
            routes=routes.get(migration.pk, {}), time_zone=time_zone,
            migration_id=migration.pk, migration_name=migration.name,
        )
    return ProgrammeReadConfig(by_slug=by_slug, time_zone=time_zone)


def secondary_unusable_by_route(migrations: Sequence[Migration]) -> list[dict[str, Any]]:
    """Per route of these migrations: second legacy answers not used as noise evidence (not
    comparable), and the last reason. Counters kept before migrations existed are not shown."""
    import redis

    from verifiers.read import stream
    from verifiers.read.services import shared_redis

    try:
        client = shared_redis()
        counts = client.hgetall(stream.SECONDARY_UNUSABLE_KEY)
        reasons = client.hgetall(stream.SECONDARY_UNUSABLE_REASON_KEY)
    except redis.RedisError:
        return []

    def text(value: bytes | str) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    names = {migration.pk: migration.name for migration in migrations}
    rows = []
    for field, count in counts.items():
        route = stream.parse_route_field(text(field))
        if route is not None and route[0] in names:
            rows.append({"migration": names[route[0]], "subject": route[1], "count": int(count),
                         "reason": text(reasons.get(field, b""))})
    return sorted(rows, key=lambda row: (-row["count"], row["migration"], row["subject"]))


def totals_since(*, kind: str = "read", hours: float = 24.0, migration_ids: Sequence[int] | None = None) -> dict[str, int]:
    """Outcome sums over the last hours, of `migration_ids` only when given (None: all)."""
    since = timezone.now() - timedelta(hours=hours)
    counts = OutcomeCount.objects.filter(kind=kind, minute__gte=since)
    if migration_ids is not None:
        counts = counts.filter(migration_id__in=migration_ids)
    sums = counts.aggregate(
        matched=Sum("matched"), mismatched=Sum("mismatched"), errored=Sum("errored"),
        noise_suppressed=Sum("noise_suppressed"))
    return {key: value or 0 for key, value in sums.items()}


# A path is offered as an ignore rule only when two legacy answers disagree on it often: a
# balance that moved between the two calls (a transfer in between) is a race, not noise.
NOISE_SUGGESTION_MIN_COUNT = 5
NOISE_SUGGESTION_MIN_SHARE = 0.05  # of the route's samples compared since the path was first seen


def noise_suggestions(*, status: str = NoiseSuggestion.Status.SUGGESTED,
                      migration_ids: Sequence[int] | None = None) -> QuerySet[NoiseSuggestion]:
    compared = (
        OutcomeCount.objects.filter(kind="read", subject=OuterRef("subject"), migration_id=OuterRef("migration_id"),
                                    minute__gt=ExpressionWrapper(OuterRef("first_seen") - timedelta(minutes=1),
                                                                output_field=DateTimeField()))
        .values("migration", "subject")
        .annotate(total=Sum(F("matched") + F("mismatched") + F("errored")))
        .values("total")
    )
    suggestions = NoiseSuggestion.objects.filter(status=status, count__gte=NOISE_SUGGESTION_MIN_COUNT)
    if migration_ids is not None:
        suggestions = suggestions.filter(migration_id__in=migration_ids)
    return (
        suggestions
        .annotate(compared=Coalesce(Subquery(compared), 0))
        .filter(count__gte=F("compared") * NOISE_SUGGESTION_MIN_SHARE)
        .select_related("route")
        .order_by("-count")
    )
