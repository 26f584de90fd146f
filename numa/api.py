"""Machine API of the NUMA app (thin: parse, call one service, shape the answer).

Each body has one schema, used both to validate and to document it: numa.samples.SAMPLE_BODY_SCHEMA
for samples, PinningEventSerializer for pinning events.

POST /api/v1/numa/samples          a HostSample posted by `manage.py numa_agent`
POST /api/v1/numa/pinning-events   a pinning event posted by a rollout hook or a script
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import CanIngest
from console.throttling import IngestRateThrottle
from numa import ingest
from numa.models import Host, PinningEvent
from numa.samples import SAMPLE_BODY_SCHEMA, NumaSampleError, openapi_schema, sample_body


class SampleIngestView(APIView):
    throttle_classes = [IngestRateThrottle]
    throttle_scope = "numa_samples"
    permission_classes = [CanIngest]

    @extend_schema(
        request={"application/json": openapi_schema(SAMPLE_BODY_SCHEMA)},
        responses={
            201: inline_serializer(
                "NumaSampleStored",
                {
                    "host": serializers.CharField(),
                    "sampled_at": serializers.DateTimeField(),
                    "created": serializers.BooleanField(),
                },
            ),
            200: OpenApiResponse(description="The same sample was already stored (idempotent)."),
            400: OpenApiResponse(description="Malformed sample: the error names the field."),
        },
        summary="Store one NUMA sample of a host (auto-registers the host)",
    )
    def post(self, request: Request) -> Response:
        try:
            body = request.data
        except ParseError as error:
            return Response(
                {"error": f"body is not valid JSON: {error.detail}"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            sample, work_total, extras = sample_body(body, now=timezone.now())
            row, created = ingest.record_sample(
                sample=sample, delivery=Host.Delivery.AGENT, work_total=work_total, extras=extras
            )
        except NumaSampleError as error:
            return Response({"error": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"host": sample.hostname, "sampled_at": row.sampled_at.isoformat(), "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PinningEventSerializer(serializers.Serializer):
    hostname = serializers.CharField(max_length=253)
    changed_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone")
    kind = serializers.ChoiceField(choices=PinningEvent.Kind.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        return attrs


class PinningEventIngestView(APIView):
    permission_classes = [CanIngest]

    @extend_schema(
        request=PinningEventSerializer,
        responses={
            201: inline_serializer(
                "NumaPinningEventStored",
                {"id": serializers.IntegerField(), "created": serializers.BooleanField()},
            ),
            200: OpenApiResponse(description="The same event was already stored (idempotent)."),
            400: OpenApiResponse(description="Unknown host or kind, naive time, unknown fields."),
        },
        summary="Record a pinning-policy change of a host",
    )
    def post(self, request: Request) -> Response:
        serializer = PinningEventSerializer(data=request.data)
        if not serializer.is_valid():
            return Response({"error": serializer.errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            event, created = ingest.record_pinning_event(
                who=request.user.get_username(), **serializer.validated_data
            )
        except ingest.PinningEventError as error:
            return Response({"error": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"id": event.pk, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
