"""Viewsets of the reconciliation API: runs (start, read, their breaks and matches), break
acceptance, and decisions on suggested matches. Each command calls one service."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from config.api.pagination import LargeListPagination
from reconciliation.api.serializers import (
    BreakAcceptSerializer,
    BreakSerializer,
    MatchDecisionSerializer,
    MatchSerializer,
    ReconciliationRunSerializer,
    ReconciliationRunStartSerializer,
)
from reconciliation.filters import BreakFilterSet, MatchFilterSet, ReconciliationRunFilterSet
from reconciliation.models import Break, ReconciliationRun
from reconciliation.selectors import break_get, break_list, match_list, run_get, run_list
from reconciliation.services.breaks import break_accept
from reconciliation.services.matches import suggestions_confirm, suggestions_reject
from reconciliation.services.runs import run_start

RUN_START = ("reconciliation.add_reconciliationrun", "recon:write")
BREAK_CHANGE = ("reconciliation.change_break", "recon:write")
MATCH_CHANGE = ("reconciliation.change_match", "recon:write")
BREAK_READ = ("reconciliation.view_break", "read")
MATCH_READ = ("reconciliation.view_match", "read")
# A run's breaks and matches are filtered by these FilterSets (the run's own list by its).
BREAK_FILTERS = [OpenApiParameter(n, str) for n in ("kind", "state", "party_code")]
MATCH_FILTERS = [OpenApiParameter(n, str) for n in ("rule", "status")]


def _input(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReconciliationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Runs: start one (202, it executes in the background), list, read one with progress,
    and the breaks and matches it found."""

    queryset = run_list()
    serializer_class = ReconciliationRunSerializer
    filterset_class = ReconciliationRunFilterSet
    lookup_value_regex = r"\d+"
    required_permissions = {"create": RUN_START, "breaks": BREAK_READ, "matches": MATCH_READ}

    def _run(self, pk) -> ReconciliationRun:
        try:
            return run_get(pk)
        except (ReconciliationRun.DoesNotExist, ValueError):
            raise Http404 from None

    @extend_schema(request=ReconciliationRunStartSerializer, responses=ReconciliationRunSerializer)
    def create(self, request):
        data = _input(ReconciliationRunStartSerializer, request.data)
        run = run_start(actor=request.user, **data)
        return Response(
            ReconciliationRunSerializer(run_get(run.pk)).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        responses=BreakSerializer(many=True),
        filters=False,
        parameters=BREAK_FILTERS,
        # Distinct from the breaks list across runs (a collision warns in check --deploy).
        operation_id="reconciliation_runs_run_breaks_list",
    )
    @action(detail=True, methods=["get"])
    def breaks(self, request, pk=None):
        queryset = self.filter_queryset_for(break_list(run=self._run(pk)), BreakFilterSet)
        return self._paged(queryset, BreakSerializer)

    @extend_schema(responses=MatchSerializer(many=True), filters=False, parameters=MATCH_FILTERS)
    @action(detail=True, methods=["get"])
    def matches(self, request, pk=None):
        queryset = self.filter_queryset_for(match_list(run=self._run(pk)), MatchFilterSet)
        return self._paged(queryset, MatchSerializer)

    def filter_queryset_for(self, queryset, filterset_class):
        filterset = filterset_class(self.request.query_params, queryset=queryset)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return filterset.qs

    def _paged(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


class BreakViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Breaks across runs; accept one with a note."""

    queryset = break_list()
    serializer_class = BreakSerializer
    filterset_class = BreakFilterSet
    pagination_class = LargeListPagination
    required_permissions = {"accept": BREAK_CHANGE}

    @extend_schema(request=BreakAcceptSerializer, responses=BreakSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        data = _input(BreakAcceptSerializer, request.data)
        try:
            item = break_get(pk)
        except (Break.DoesNotExist, ValueError):
            raise Http404 from None
        return Response(BreakSerializer(break_accept(item=item, actor=request.user, **data)).data)


class MatchDecisionViewSet(viewsets.GenericViewSet):
    """Confirm or reject suggested matches, in bulk."""

    queryset = match_list()
    serializer_class = MatchSerializer
    required_permissions = {"confirm": MATCH_CHANGE, "reject": MATCH_CHANGE}

    @extend_schema(request=MatchDecisionSerializer, responses=MatchSerializer(many=True))
    @action(detail=False, methods=["post"])
    def confirm(self, request):
        data = _input(MatchDecisionSerializer, request.data)
        done = suggestions_confirm(actor=request.user, **data)
        return Response(
            MatchSerializer(match_list().filter(pk__in=[m.pk for m in done]), many=True).data
        )

    @extend_schema(request=MatchDecisionSerializer, responses=MatchSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reject(self, request):
        data = _input(MatchDecisionSerializer, request.data)
        done = suggestions_reject(actor=request.user, **data)
        return Response(
            MatchSerializer(match_list().filter(pk__in=[m.pk for m in done]), many=True).data
        )
