"""Machine API of the write verifier (thin: size check, call one service, shape the answer).

POST /api/v1/write-captures   {id, dialect, statements: [{sql, params}], after_images: [{table, key, row}]}
POST /api/v1/write-commits    {id}
"""

from __future__ import annotations

import redis
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import CanIngest
from console.throttling import IngestRateThrottle
from verifiers.write import services


def _body(request: Request) -> bytes:
    """The raw body, refusing oversized ones before reading them (413)."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > services.MAX_CAPTURE_BYTES:
        raise services.CaptureTooLarge(f"body is {int(length):,} bytes; the limit is {services.MAX_CAPTURE_BYTES:,}")
    try:
        return request.body
    except RequestDataTooBig:
        raise services.CaptureTooLarge(f"body is larger than {services.MAX_CAPTURE_BYTES:,} bytes") from None


def _refused(error: services.CaptureError) -> Response:
    return Response({"error": str(error)}, status=error.status)


def _store_down(error: redis.RedisError) -> Response:
    # Nothing was acknowledged: the sender keeps the capture and retries.
    return Response({"error": f"the capture store (Redis) is unavailable: {error}"},
                    status=status.HTTP_503_SERVICE_UNAVAILABLE)


class StatementSerializer(serializers.Serializer):
    sql = serializers.CharField(help_text="One INSERT/UPDATE/DELETE as the candidate executed it")
    params = serializers.JSONField(required=False, allow_null=True, help_text="list (positional) or object (named)")


class AfterImageSerializer(serializers.Serializer):
    table = serializers.CharField()
    key = serializers.DictField()
    row = serializers.DictField()


class CaptureSerializer(serializers.Serializer):
    """Body of POST /api/v1/write-captures (documentation; validation is in the service)."""

    id = serializers.CharField(max_length=80, help_text="Capture id; the commit notice repeats it")
    dialect = serializers.ChoiceField(choices=["postgres", "mysql", "oracle"])
    statements = StatementSerializer(many=True)
    after_images = AfterImageSerializer(many=True, required=False)
    database = serializers.CharField(required=False, help_text="Verified database name (default: the enabled one)")


class WriteCaptureView(APIView):
    throttle_classes = [IngestRateThrottle]
    throttle_scope = "write_captures"
    permission_classes = [CanIngest]

    @extend_schema(
        request=CaptureSerializer,
        responses={
            202: inline_serializer("WriteCaptureAccepted", {
                "id": serializers.CharField(), "status": serializers.CharField(),
                "row_checks": serializers.IntegerField(), "unverifiable": serializers.ListField(),
            }),
            200: OpenApiResponse(description="The same capture id was accepted before (counted once)."),
            400: OpenApiResponse(description="Malformed capture: the error names the field."),
            413: OpenApiResponse(description="Body, statement list or after-image list over the limit."),
            503: OpenApiResponse(description="No verified database is configured: retry later."),
        },
        summary="Store the candidate's shadow write until the legacy commit",
    )
    def post(self, request: Request) -> Response:
        try:
            result = services.ingest_capture(body=_body(request))
        except services.CaptureError as error:
            return _refused(error)
        except redis.RedisError as error:
            return _store_down(error)
        answer = {"id": result.capture_id, "status": result.status, "row_checks": result.row_checks,
                  "unverifiable": result.unverifiable, "converted": result.converted}
        return Response(answer, status=status.HTTP_200_OK if result.status == "duplicate" else status.HTTP_202_ACCEPTED)


class CommitSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=80)


class WriteCommitView(APIView):
    throttle_classes = [IngestRateThrottle]
    throttle_scope = "write_commits"
    permission_classes = [CanIngest]

    @extend_schema(
        request=CommitSerializer,
        responses={
            202: inline_serializer("WriteCommitAccepted", {"id": serializers.CharField(), "status": serializers.CharField()}),
            200: OpenApiResponse(description="Duplicate commit notice (counted once)."),
            400: OpenApiResponse(description="Malformed body."),
        },
        summary="The legacy committed the write of this capture: schedule its check",
    )
    def post(self, request: Request) -> Response:
        try:
            result = services.register_commit(body=_body(request))
        except services.CaptureError as error:
            return _refused(error)
        except redis.RedisError as error:
            return _store_down(error)
        return Response({"id": result.capture_id, "status": result.status},
                        status=status.HTTP_200_OK if result.status == "duplicate" else status.HTTP_202_ACCEPTED)
