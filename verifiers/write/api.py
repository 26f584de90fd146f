"""Machine API of the write verifier (thin: size check, call one service, shape the answer).

POST /api/v1/write-captures   {id, dialect, statements: [{sql, params}], after_images: [{table, key, row}]}
POST /api/v1/write-commits    {id}

Each takes one object, a JSON array of them, or NDJSON (Content-Type application/x-ndjson).
One object is answered as one (4xx naming what is wrong); a batch item by item, like read ingest.
"""

from __future__ import annotations

from typing import Any, Callable

import redis
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import CanIngest
from console.collector import cyclic_gc_paused
from console.ingest_scope import MIGRATION_QUERY, IngestScopeError, ingest_migration
from console.renderers import IngestJSONRenderer
from console.throttling import IngestRateThrottle
from verifiers.write import services
from verifiers.write.validation import (
    DIALECT_NAMES,
    MAX_BATCH_BYTES,
    MAX_CAPTURE_BYTES,
    MAX_ITEMS_PER_REQUEST,
    CaptureError,
    CaptureTooLarge,
    ParsedBody,
    parse_body,
)

RETRY_AFTER_S = 5


def _parsed(request: Request) -> ParsedBody:
    """The body split into items, refusing oversized ones before reading them (413)."""
    django_request = request._request
    length = django_request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_BATCH_BYTES:
        raise CaptureTooLarge(f"body is {int(length):,} bytes; the limit is {MAX_BATCH_BYTES:,}")
    # Read the stream ourselves: request.body stops at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    body = django_request.read(MAX_BATCH_BYTES + 1)
    return parse_body(body, django_request.META.get("CONTENT_TYPE", ""))


def _refused(error: CaptureError) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if error.status == 503 else None
    return Response({"error": str(error)}, status=error.status, headers=headers)


def _store_down(error: redis.RedisError) -> Response:
    # Nothing was acknowledged: the sender keeps the capture and retries.
    return Response({"error": f"the capture store (Redis) is unavailable: {error}"},
                    status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})


def _batch_answer(parsed: ParsedBody, outcomes: list[Any], as_dict: Any) -> Response:
    """Per-item results of a batch: {accepted, duplicates, rejected: [{index|line, reason, status}], results}."""
    results: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    accepted = duplicates = 0
    for (position, _), outcome in zip(parsed.items, outcomes):
        if isinstance(outcome, CaptureError):
            rejected.append({parsed.index_name: position, "reason": str(outcome), "status": outcome.status})
            continue
        results.append({parsed.index_name: position, **as_dict(outcome)})
        duplicates += outcome.status == "duplicate"
        accepted += outcome.status != "duplicate"
    payload = {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "results": results}
    if accepted or duplicates or not rejected:
        return Response(payload, status=status.HTTP_202_ACCEPTED)
    if all(item["status"] == 503 for item in rejected):  # nothing can verify yet: retry later
        return Response(payload, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    return Response(payload, status=status.HTTP_400_BAD_REQUEST)


def _ingest(request: Request, run: Callable[[ParsedBody, Any], list[Any]], as_dict: Callable[[Any], dict]) -> Response:
    """The one flow of both endpoints: whose migration, parse, `run` the body's items, answer the batch or the item."""
    try:
        migration = ingest_migration(request)
    except IngestScopeError as error:
        return Response({"error": str(error)}, status=error.status)
    # A batch's thousands of parsed dicts would trigger full collections. The answer is built inside
    # the pause, so the batch is freed before the collector resumes: resumed with it alive, the
    # collector's first pass would walk every object of it (measured: ~10% of the web CPU).
    with cyclic_gc_paused():
        return _answer(request, lambda parsed: run(parsed, migration), as_dict)


def _answer(request: Request, run: Callable[[ParsedBody], list[Any]], as_dict: Callable[[Any], dict]) -> Response:
    try:
        parsed = _parsed(request)
        outcomes = run(parsed) if parsed.items else []
    except CaptureError as error:
        return _refused(error)
    except redis.RedisError as error:
        return _store_down(error)
    if not parsed.single:
        return _batch_answer(parsed, outcomes, as_dict)
    result = outcomes[0]
    if isinstance(result, CaptureError):
        return _refused(result)
    return Response(as_dict(result),
                    status=status.HTTP_200_OK if result.status == "duplicate" else status.HTTP_202_ACCEPTED)


def _items(parsed: ParsedBody) -> list[Any]:
    # An item that was not even JSON (NDJSON line) reaches the service as its CaptureError.
    return [raw for _, raw in parsed.items]


class StatementSerializer(serializers.Serializer):
    sql = serializers.CharField(help_text="One INSERT/UPDATE/DELETE as the candidate executed it")
    params = serializers.JSONField(
        required=False, allow_null=True,
        help_text='list (positional) or object (named); exact values may be tagged: {"$decimal": "10.50"}, '
                  '{"$int": "..."}, {"$datetime": "..."}, {"$bytes": "<base64>"}')


class AfterImageSerializer(serializers.Serializer):
    table = serializers.CharField()
    key = serializers.DictField()
    row = serializers.DictField()


class CaptureSerializer(serializers.Serializer):
    """One capture of POST /api/v1/write-captures; the body is one, a JSON array of them, or NDJSON."""

    id = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}$", max_length=80,
                                help_text="Capture id; the commit note repeats it")
    dialect = serializers.CharField(
        max_length=40, help_text=f"Dialect of the statements: {', '.join(DIALECT_NAMES)}. Another name is "
                                 "accepted and its statements reported unverifiable with the reason.")
    statements = StatementSerializer(many=True, help_text=f"1 to {services.MAX_STATEMENTS} statements")
    after_images = AfterImageSerializer(many=True, required=False)
    database = serializers.CharField(required=False, help_text="Verified database name within the request's "
                                                               "migration (default: its first enabled)")


_LIMITS = (f"One capture up to {MAX_CAPTURE_BYTES:,} bytes; a batch (JSON array or NDJSON) up to "
           f"{MAX_BATCH_BYTES:,} bytes and {MAX_ITEMS_PER_REQUEST:,} items.")


_FORBIDDEN = OpenApiResponse(description="The token is limited to another migration than the one named.")


def _ingest_schema(serializer: type[serializers.Serializer], responses: dict[int, Any], *, summary: str,
                   description: str) -> Any:
    """The OpenAPI description both endpoints share: one object, a JSON array or NDJSON of `serializer`."""
    return extend_schema(parameters=[MIGRATION_QUERY], request={"application/json": serializer,
                                                                "application/x-ndjson": serializer},
                         responses={403: _FORBIDDEN, **responses}, summary=summary, description=description)


class _IngestView(APIView):
    """An ingest endpoint: the ingest permission, throttled per endpoint (``throttle_scope``)."""

    throttle_classes = [IngestRateThrottle]
    permission_classes = [CanIngest]
    renderer_classes = [IngestJSONRenderer]


class WriteCaptureView(_IngestView):
    throttle_scope = "write_captures"

    @_ingest_schema(
        CaptureSerializer,
        {
            202: inline_serializer("WriteCaptureAccepted", {
                "id": serializers.CharField(), "status": serializers.CharField(),
                "row_checks": serializers.IntegerField(), "unverifiable": serializers.ListField(),
                "converted": serializers.BooleanField(),
            }),
            200: OpenApiResponse(description="The same capture id was accepted before (counted once)."),
            400: OpenApiResponse(description="Malformed capture, an unknown verified database (named, with "
                                             "the migration's known ones), or no migration named while the "
                                             "console has several (named)."),
            409: OpenApiResponse(description="The capture names a disabled verified database."),
            413: OpenApiResponse(description="Body, statement list or after-image list over the limit. " + _LIMITS),
            503: OpenApiResponse(description="Retry later: no verified database is enabled yet, or the capture "
                                             "store is down."),
        },
        summary="Store the candidate's shadow writes until the legacy commit",
        description="A batch is answered 202 with {accepted, duplicates, rejected: [{index|line, reason, status}], "
                    "results: [{index|line, id, status, row_checks, unverifiable, converted}]}. " + _LIMITS,
    )
    def post(self, request: Request) -> Response:
        return _ingest(request, lambda parsed, migration: services.ingest_captures(
            _items(parsed), migration_id=migration.pk, tagged=parsed.tagged), services.IngestResult.as_dict)


class CommitSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}$", max_length=80)


class WriteCommitView(_IngestView):
    throttle_scope = "write_commits"

    @_ingest_schema(
        CommitSerializer,
        {
            202: inline_serializer("WriteCommitAccepted", {"id": serializers.CharField(), "status": serializers.CharField()}),
            200: OpenApiResponse(description="Duplicate commit note (counted once)."),
            400: OpenApiResponse(description="Malformed body, or no migration named while the console has several."),
            503: OpenApiResponse(description="The capture store is down: retry later."),
        },
        summary="The legacy committed the writes of these captures: schedule their checks",
        description="One {id}, a JSON array of them or NDJSON; a batch is answered item by item like captures.",
    )
    def post(self, request: Request) -> Response:
        # Only a console with several migrations needs to remember whose commit note it was.
        return _ingest(request, lambda parsed, migration: services.register_commits(
            _items(parsed), migration_id=migration.pk if migration.several else None),
            lambda result: {"id": result.capture_id, "status": result.status})
