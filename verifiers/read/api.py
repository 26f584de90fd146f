"""Machine API of the read verifier (DRF, thin): sample ingest. Groups: verifiers.groups.api."""

from __future__ import annotations

import redis
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import CanIngest
from console.ingest_scope import MIGRATION_PARAMETER, MIGRATION_QUERY, IngestScopeError, ingest_migration
from console.renderers import IngestJSONRenderer
from console.throttling import IngestRateThrottle
from verifiers.read import services, stream
from verifiers.read.ingest import MAX_BODY_BYTES, MAX_SAMPLES_PER_REQUEST, BatchError, BatchTooLargeError, parse_batch

RETRY_AFTER_S = 5
READ_PIECE_BYTES = 256 * 1024


def read_upload(meta: dict, django_request, limit: int) -> bytes:
    """The request body, at most `limit` bytes, with or without a Content-Length.

    request.body stops at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), so the stream is read here. A
    `Transfer-Encoding: chunked` upload has no CONTENT_LENGTH and Django then reads it as empty;
    the WSGI server has de-chunked `wsgi.input` (gunicorn does), which is read to its end.
    """
    if meta.get("CONTENT_LENGTH") or "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return django_request.read(limit)
    stream = meta["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size < limit:
        piece = stream.read(min(READ_PIECE_BYTES, limit - size))
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
    return b"".join(parts)


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField(), help_text="[{index|line, reason}]")


class ReadSamplesView(APIView):
    """POST mirrored read samples: a JSON array, or NDJSON with Content-Type application/x-ndjson."""
    permission_classes = [CanIngest]
    throttle_classes = [IngestRateThrottle]
    renderer_classes = [IngestJSONRenderer]
    throttle_scope = "read_samples"

    @extend_schema(
        operation_id="read_samples_ingest",
        summary="Queue mirrored read samples",
        description=(f"Body: JSON array of samples or NDJSON (application/x-ndjson). At most {MAX_BODY_BYTES} "
                     f"bytes and {MAX_SAMPLES_PER_REQUEST} samples (413 above), with a Content-Length or "
                     "Transfer-Encoding: chunked. Idempotent on sample id (per migration). "
                     f"`?{MIGRATION_PARAMETER}=<slug>` names the migration the samples belong to: required when "
                     "the console has several and the token is not limited to one (400 naming them); 403 when "
                     "the token is limited to another migration. "
                     "503 with Retry-After when the queue is full or Redis is down; nothing is half-written."),
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        parameters=[MIGRATION_QUERY],
        responses={202: IngestResultSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT,
                   413: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        try:
            migration = ingest_migration(request)
        except IngestScopeError as error:
            return Response({"detail": str(error)}, status=error.status)
        django_request = request._request
        declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        if declared > MAX_BODY_BYTES:
            return Response({"detail": f"body over {MAX_BODY_BYTES} bytes"}, status=413)
        body = read_upload(django_request.META, django_request, MAX_BODY_BYTES + 1)
        try:
            batch = parse_batch(body, django_request.META.get("CONTENT_TYPE", ""))
        except BatchTooLargeError as error:
            return Response({"detail": str(error)}, status=413)
        except BatchError as error:
            return Response({"detail": str(error)}, status=400)
        try:
            # With one migration, samples name none (as before migrations existed): its only one is meant.
            result = services.ingest_samples(batch=batch, migration=migration.slug if migration.several else None)
        except stream.StreamFullError as error:
            return Response({"detail": str(error)}, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
        except redis.RedisError:
            return Response({"detail": "sample queue unavailable"}, status=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})
        payload = {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected}
        # The good samples are queued either way; 400 tells a sender that some lines were bad.
        code = status.HTTP_202_ACCEPTED if result.accepted or result.duplicates or not result.rejected else 400
        return Response(payload, status=code)
