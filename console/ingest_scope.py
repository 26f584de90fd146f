"""Which migration an ingest request files its samples, captures and commit notes under.

Named by the token (a token limited to one migration) or by the client (`?migration=<slug>`);
a console with exactly one migration needs nothing named. Nothing is guessed from the request's
paths: with several migrations and none named, the request is refused, naming them.
`choose_migration` is the pure rule; `ingest_migration` applies it to a DRF request.
"""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.utils import OpenApiParameter

MIGRATION_PARAMETER = "migration"
# The ingest endpoints' query parameter, as the OpenAPI schema describes it.
MIGRATION_QUERY = OpenApiParameter(
    MIGRATION_PARAMETER, str, OpenApiParameter.QUERY, required=False,
    description="Slug of the migration this request's items belong to; optional when the console has one "
                "migration or the token is limited to one (403 naming it when another is named).")


class IngestScopeError(Exception):
    """The request names no usable migration; `status` is the HTTP answer (400 or 403)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _listed(slugs: list[str]) -> str:
    return ", ".join(slugs) if slugs else "none configured"


def choose_migration(*, named: str | None, token_slug: str | None, known: list[str]) -> str | None:
    """The slug the request belongs to; None only when the console has no migration yet.

    `named` is the client's `?migration=`, `token_slug` the migration a token is limited to, `known`
    every migration's slug.
    """
    if named is not None:
        named = named.strip()
        if not named:
            raise IngestScopeError(f"?{MIGRATION_PARAMETER}= is empty; known migrations: {_listed(known)}", 400)
        if named not in known:
            raise IngestScopeError(f"unknown migration {named!r}; known migrations: {_listed(known)}", 400)
        if token_slug is not None and named != token_slug:
            raise IngestScopeError(
                f"this API token is limited to migration {token_slug!r}; it cannot ingest into {named!r}", 403)
        return named
    if token_slug is not None:
        return token_slug
    if len(known) > 1:
        raise IngestScopeError(f"name the migration (?{MIGRATION_PARAMETER}=<slug>): {_listed(known)}", 400)
    return known[0] if known else None


@dataclass(frozen=True, slots=True)
class IngestMigration:
    """The migration an ingest request belongs to (pk None: the console has none yet)."""

    pk: int | None
    slug: str | None
    several: bool = False  # the console has several migrations (a single one is implied everywhere)


def ingest_migration(request) -> IngestMigration:
    """The migration of a DRF ingest request (token, then `?migration=`); IngestScopeError if none fits."""
    from console.models import ApiToken, Migration

    token = request.auth if isinstance(request.auth, ApiToken) else None
    token_slug = token.migration.slug if token is not None and token.migration is not None else None
    pks = dict(Migration.objects.values_list("slug", "pk"))
    slug = choose_migration(named=request.query_params.get(MIGRATION_PARAMETER), token_slug=token_slug,
                            known=sorted(pks))
    return IngestMigration(pks.get(slug) if slug else None, slug, several=len(pks) > 1)
