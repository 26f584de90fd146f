"""Machine API of the mismatch groups (DRF, thin): list, detail with samples, reverify, triage."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import CanView, require_in_migration
from console.migration_scope import api_migration_ids
from verifiers.groups import selectors, services, tasks
from verifiers.models import MismatchGroup, MismatchSample


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MismatchSample
        fields = ["id", "sample_id", "captured_at", "recorded_at", "outcome", "request", "legacy", "candidate",
                  "differences", "select_sql", "legacy_latency_ms", "candidate_latency_ms", "reverified_at",
                  "reverify_outcome", "reverify_differences"]


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = MismatchGroup
        fields = ["id", "kind", "fingerprint", "title", "subject", "outcome", "differences", "status", "severity",
                  "first_seen", "last_seen", "count", "stored_samples", "status_changed_at", "status_changed_by",
                  "note"]


class GroupDetailSerializer(GroupSerializer):
    samples = SampleSerializer(many=True, read_only=True)

    class Meta(GroupSerializer.Meta):
        fields = GroupSerializer.Meta.fields + ["samples"]


class GroupPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class MismatchGroupListView(APIView):
    @extend_schema(
        operation_id="mismatch_groups_list",
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in MismatchGroup.Status]),
            OpenApiParameter("kind", str, enum=["read", "write"]),
            OpenApiParameter("route", str, description="Substring of the subject (route or table)"),
            OpenApiParameter("subject", str, description="Same as route"),
            OpenApiParameter("migration", str, description="Slug of one migration (default: all you may view)"),
            OpenApiParameter("limit", int), OpenApiParameter("offset", int),
        ],
        responses=GroupSerializer(many=True),
    )
    def get(self, request):
        params = request.query_params
        groups = selectors.mismatch_groups(kind=params.get("kind"), status=params.get("status"),
                                           subject=params.get("route") or params.get("subject"),
                                           migration_ids=api_migration_ids(request))
        paginator = GroupPagination()
        page = paginator.paginate_queryset(groups, request, view=self)
        return paginator.get_paginated_response(GroupSerializer(page, many=True).data)


class MismatchGroupDetailView(APIView):
    @extend_schema(operation_id="mismatch_groups_detail", responses=GroupDetailSerializer)
    def get(self, request, group_id: int):
        group = get_object_or_404(MismatchGroup.objects.prefetch_related("samples"), pk=group_id)
        require_in_migration(request.user, group.migration_id)
        return Response(GroupDetailSerializer(group).data)


class HasPermission(BasePermission):
    required = ""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(self.required))


class CanReverify(HasPermission):
    required = "verifiers.reverify_mismatchgroup"


class CanTriage(HasPermission):
    required = "verifiers.triage_mismatchgroup"


class MismatchGroupReverifyView(APIView):
    permission_classes = [CanView, CanReverify]

    @extend_schema(operation_id="mismatch_groups_reverify", request=None,
                   responses={202: inline_serializer("ReverifyQueued", {"task_id": serializers.CharField()})})
    def post(self, request, group_id: int):
        require_in_migration(request.user, get_object_or_404(MismatchGroup, pk=group_id).migration_id,
                             CanReverify.required)
        result = tasks.reverify_group.delay(group_id)
        return Response({"task_id": result.id}, status=202)


class StatusChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["acknowledge", "ignore", "reopen"])
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class MismatchGroupStatusView(APIView):
    permission_classes = [CanView, CanTriage]

    @extend_schema(operation_id="mismatch_groups_status", request=StatusChangeSerializer,
                   responses={200: GroupSerializer, 400: OpenApiResponse(description="Unknown action")})
    def post(self, request, group_id: int):
        require_in_migration(request.user, get_object_or_404(MismatchGroup, pk=group_id).migration_id,
                             CanTriage.required)
        form = StatusChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        group = services.change_group_status(group_id=group_id, action=form.validated_data["action"],
                                             user_name=request.user.get_username(),
                                             note=form.validated_data.get("note", ""))
        return Response(GroupSerializer(group).data)
