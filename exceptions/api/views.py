"""Cases over the API: a filtered list, one case in full, and the commands on it."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from exceptions import services
from exceptions.api.serializers import (
    CaseAcknowledgeSerializer,
    CaseAssignSerializer,
    CaseBulkResultSerializer,
    CaseBulkSerializer,
    CaseCommentCreateSerializer,
    CaseCommentSerializer,
    CaseCountsSerializer,
    CaseDetailSerializer,
    CaseReasonSerializer,
    CaseRemediateResultSerializer,
    CaseRemediateSerializer,
    CaseSerializer,
)
from exceptions.filters import CaseFilterSet
from exceptions.models import Case
from exceptions.pagination import CaseKeysetPagination
from exceptions.remediation import case_remediate
from exceptions.selectors import case_counts, case_get, case_list

CHANGE = ("exceptions.change_case", "cases:write")


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Cases: the queue (filters, `sort`, keyset pages), counts, one case in full (blocked
    records, comments, history, fixes), commands as POSTs, one at a time or in bulk."""

    queryset = case_list()
    serializer_class = CaseSerializer
    filterset_class = CaseFilterSet
    pagination_class = CaseKeysetPagination
    required_permissions = {
        "counts": ("exceptions.view_case", "read"),
        "bulk": CHANGE,
        "assign": CHANGE,
        "acknowledge": CHANGE,
        "resolve": CHANGE,
        "dismiss": CHANGE,
        "remediate": CHANGE,
        "comments": ("exceptions.add_casecomment", "cases:write"),
    }

    @extend_schema(responses=CaseDetailSerializer)
    def retrieve(self, request, pk=None):
        try:
            case = case_get(pk)
        except (Case.DoesNotExist, ValueError):
            raise Http404 from None
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data)

    def _detail(self, case) -> dict:
        fresh = case_get(case.pk)
        return CaseDetailSerializer(fresh, context=self.get_serializer_context()).data

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=CaseAcknowledgeSerializer, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        data = self._input(CaseAcknowledgeSerializer)
        case = services.case_acknowledge(
            case=self.get_object(), actor=request.user, owner=data.get("owner")
        )
        return Response(self._detail(case))

    @extend_schema(request=CaseReasonSerializer, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = self._input(CaseReasonSerializer)
        case = services.case_resolve(case=self.get_object(), actor=request.user, **data)
        return Response(self._detail(case))

    @extend_schema(request=CaseReasonSerializer, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        data = self._input(CaseReasonSerializer)
        case = services.case_dismiss(case=self.get_object(), actor=request.user, **data)
        return Response(self._detail(case))

    @extend_schema(request=CaseCommentCreateSerializer, responses=CaseCommentSerializer)
    @action(detail=True, methods=["post"])
    def comments(self, request, pk=None):
        data = self._input(CaseCommentCreateSerializer)
        comment = services.case_comment_add(case=self.get_object(), actor=request.user, **data)
        return Response(CaseCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CaseRemediateSerializer, responses=CaseRemediateResultSerializer)
    @action(detail=True, methods=["post"])
    def remediate(self, request, pk=None):
        data = self._input(CaseRemediateSerializer)
        case = self.get_object()
        message = case_remediate(case=case, key=data["action"], actor=request.user)
        return Response({"message": message, "case": self._detail(case)})

    @extend_schema(responses=CaseCountsSerializer)
    @action(detail=False, methods=["get"])
    def counts(self, request):
        """Counts per kind and per SLA state under the current filter (but its kind/SLA)."""
        return Response(CaseCountsSerializer(case_counts(filters=request.query_params)).data)

    @extend_schema(request=CaseBulkSerializer, responses=CaseBulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Acknowledge, assign, resolve or dismiss many cases with one reason, in one
        transaction, each audited."""
        data = self._input(CaseBulkSerializer)
        cases = Case.objects.filter(pk__in=data["ids"]).only("pk")
        counts = services.cases_bulk_act(
            cases=cases,
            action=data["action"],
            actor=request.user,
            reason=data["reason"],
            owner=data.get("owner"),
        )
        return Response(CaseBulkResultSerializer(counts).data)

    @extend_schema(request=CaseAssignSerializer, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        data = self._input(CaseAssignSerializer)
        case = services.case_assign(
            case=self.get_object(), actor=request.user, owner=data["owner"], reason=data["reason"]
        )
        return Response(self._detail(case))
