"""Sync jobs over the API: a filtered cursor-paginated list, one job with its attempts and
lineage, and the replay / cancel commands (one job, or replay by filter)."""

from django.http import Http404, QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.pagination import LargeListPagination
from erp_sync.api.job_serializers import (
    SyncJobBulkReplayResultSerializer,
    SyncJobBulkReplaySerializer,
    SyncJobDetailSerializer,
    SyncJobReasonSerializer,
    SyncJobReplayResultSerializer,
    SyncJobSerializer,
)
from erp_sync.filters import SyncJobFilterSet
from erp_sync.models import SyncJob
from erp_sync.selectors import sync_job_get, sync_job_list
from erp_sync.services.jobs import job_cancel, job_replay, jobs_replay

REPLAY = ("erp_sync.replay_syncjob", "sync:write")
CANCEL = ("erp_sync.cancel_syncjob", "sync:write")


class SyncJobViewSet(viewsets.ReadOnlyModelViewSet):
    """Sync jobs: list with filters, one in full, replay / cancel as POSTs."""

    queryset = sync_job_list()
    serializer_class = SyncJobSerializer
    filterset_class = SyncJobFilterSet
    pagination_class = LargeListPagination
    required_permissions = {"replay": REPLAY, "replay_many": REPLAY, "cancel": CANCEL}

    def _job(self, pk) -> SyncJob:
        try:
            return sync_job_get(pk)
        except (SyncJob.DoesNotExist, ValueError):
            raise Http404 from None

    def _detail(self, pk) -> dict:
        return SyncJobDetailSerializer(self._job(pk), context=self.get_serializer_context()).data

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(responses=SyncJobDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(self._detail(pk))

    @extend_schema(request=SyncJobReasonSerializer, responses=SyncJobReplayResultSerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        data = self._input(SyncJobReasonSerializer)
        result = job_replay(job=self._job(pk), actor=request.user, reason=data["reason"])
        return Response(
            {"replayed": result.replayed, "message": result.message, "job": self._detail(pk)}
        )

    @extend_schema(request=SyncJobReasonSerializer, responses=SyncJobDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._input(SyncJobReasonSerializer)
        job_cancel(job=self._job(pk), actor=request.user, reason=data["reason"])
        return Response(self._detail(pk))

    @extend_schema(
        operation_id="sync_jobs_replay_by_filter",
        request=SyncJobBulkReplaySerializer,
        responses=SyncJobBulkReplayResultSerializer,
    )
    @action(detail=False, methods=["post"], url_path="replay")
    def replay_many(self, request):
        data = self._input(SyncJobBulkReplaySerializer)
        params = QueryDict(mutable=True)
        for key, value in data["filter"].items():
            params.setlist(
                key, [str(v) for v in value] if isinstance(value, list) else [str(value)]
            )
        filterset = SyncJobFilterSet(params, queryset=sync_job_list())
        if not filterset.is_valid():
            raise serializers.ValidationError({"filter": filterset.errors})
        jobs = filterset.qs
        matched = jobs.count()
        counts = jobs_replay(jobs=jobs, actor=request.user, reason=data["reason"])
        return Response({"matched": matched, **counts})
