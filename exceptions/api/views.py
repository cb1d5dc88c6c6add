"""Cases over the API: a filtered list, one case in full, and the commands on it."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from exceptions import services
from exceptions.api.serializers import (
    CaseAcknowledgeSerializer,
    CaseCommentCreateSerializer,
    CaseCommentSerializer,
    CaseDetailSerializer,
    CaseReasonSerializer,
    CaseRemediateResultSerializer,
    CaseRemediateSerializer,
    CaseSerializer,
)
from exceptions.filters import CaseFilterSet
from exceptions.models import Case
from exceptions.remediation import case_remediate
from exceptions.selectors import case_get, case_list

CHANGE = ("exceptions.change_case", "cases:write")


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Cases: list with filters, one in full (comments, history, fixes), commands as POSTs."""

    queryset = case_list()
    serializer_class = CaseSerializer
    filterset_class = CaseFilterSet
    required_permissions = {
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
