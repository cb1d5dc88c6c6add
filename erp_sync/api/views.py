"""Viewsets of the erp_sync API.

Rules and connections first (this block); sync-job viewsets follow below it.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from erp_sync.api.serializers import (
    ConnectionDetailSerializer,
    ConnectionPauseSerializer,
    ConnectionResumeSerializer,
    ConnectionSerializer,
    ConnectionUpdateSerializer,
    ConnectionWriteSerializer,
    HealthSerializer,
    MaintenanceWindowInputSerializer,
    MaintenanceWindowSerializer,
    MappingPreviewInputSerializer,
    MappingPreviewSerializer,
    MappingRuleSavedSerializer,
    MappingRuleSerializer,
    MappingRuleWriteSerializer,
)
from erp_sync.filters import ConnectionFilterSet, MappingRuleFilterSet
from erp_sync.models import Connection, MaintenanceWindow
from erp_sync.selectors import connection_get, connection_list, mapping_rule_list
from erp_sync.services import connections as connection_services
from erp_sync.services import rules as rule_services

# --- rules and connections ----------------------------------------------------------------

RULE_ADD = ("erp_sync.add_mappingrule", "mapping:write")
RULE_CHANGE = ("erp_sync.change_mappingrule", "mapping:write")
CONNECTION_ADD = ("erp_sync.add_connection", "sync:write")
CONNECTION_CHANGE = ("erp_sync.change_connection", "sync:write")


def _input(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _saved(result) -> dict:
    result.rule.warnings = result.warnings
    return MappingRuleSavedSerializer(result.rule).data


class MappingRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Mapping rules. A change (PUT/PATCH) makes a new version: the answer is that version.
    DELETE deactivates (the row stays: posted jobs keep it)."""

    queryset = mapping_rule_list()
    serializer_class = MappingRuleSerializer
    filterset_class = MappingRuleFilterSet
    required_permissions = {
        "create": RULE_ADD,
        "update": RULE_CHANGE,
        "partial_update": RULE_CHANGE,
        "destroy": RULE_CHANGE,
        "preview": ("erp_sync.view_mappingrule", "read"),
    }

    @extend_schema(request=MappingRuleWriteSerializer, responses={201: MappingRuleSavedSerializer})
    def create(self, request):
        data = _input(MappingRuleWriteSerializer, request.data)
        result = rule_services.mapping_rule_create(data=data, actor=request.user)
        return Response(_saved(result), status=status.HTTP_201_CREATED)

    @extend_schema(request=MappingRuleWriteSerializer, responses=MappingRuleSavedSerializer)
    def update(self, request, pk=None):
        data = _input(MappingRuleWriteSerializer, request.data)
        result = rule_services.mapping_rule_revise(
            rule=self.get_object(), data=data, actor=request.user
        )
        return Response(_saved(result))

    @extend_schema(request=MappingRuleWriteSerializer, responses=MappingRuleSavedSerializer)
    def partial_update(self, request, pk=None):
        data = _input(MappingRuleWriteSerializer, request.data, partial=True)
        result = rule_services.mapping_rule_revise(
            rule=self.get_object(), data=data, actor=request.user
        )
        return Response(_saved(result))

    @extend_schema(request=None, responses=MappingRuleSerializer)
    def destroy(self, request, pk=None):
        rule = rule_services.mapping_rule_deactivate(rule=self.get_object(), actor=request.user)
        return Response(MappingRuleSerializer(rule).data)

    @extend_schema(request=MappingPreviewInputSerializer, responses=MappingPreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """What an event would map to: rules per line and the built document. Stores nothing."""
        data = _input(MappingPreviewInputSerializer, request.data)
        answer = rule_services.mapping_preview(
            body=data.get("event"), source=data.get("source", ""), event_id=data.get("id", "")
        )
        return Response(answer)


class ConnectionViewSet(viewsets.ReadOnlyModelViewSet):
    """ERP connections with their circuit state: create and change them (`sync:write`),
    test them (`health`), pause/resume, maintenance windows."""

    queryset = connection_list()
    serializer_class = ConnectionSerializer
    filterset_class = ConnectionFilterSet
    required_permissions = {
        "create": CONNECTION_ADD,
        "update": CONNECTION_CHANGE,
        "partial_update": CONNECTION_CHANGE,
        "pause": CONNECTION_CHANGE,
        "resume": CONNECTION_CHANGE,
        "maintenance_windows": CONNECTION_CHANGE,
        "maintenance_window_remove": CONNECTION_CHANGE,
    }

    def _detail(self, connection: Connection) -> dict:
        return ConnectionDetailSerializer(connection_get(connection.pk)).data

    @extend_schema(responses=ConnectionDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(self._detail(self.get_object()))

    @extend_schema(request=ConnectionWriteSerializer, responses={201: ConnectionDetailSerializer})
    def create(self, request):
        data = _input(ConnectionWriteSerializer, request.data)
        connection = connection_services.connection_create(data=data, actor=request.user)
        return Response(self._detail(connection), status=status.HTTP_201_CREATED)

    @extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionDetailSerializer)
    def update(self, request, pk=None):
        data = _input(ConnectionUpdateSerializer, request.data)
        connection = connection_services.connection_update(
            connection=self.get_object(), data=data, actor=request.user
        )
        return Response(self._detail(connection))

    @extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionDetailSerializer)
    def partial_update(self, request, pk=None):
        data = _input(ConnectionUpdateSerializer, request.data, partial=True)
        connection = connection_services.connection_update(
            connection=self.get_object(), data=data, actor=request.user
        )
        return Response(self._detail(connection))

    @extend_schema(responses=HealthSerializer)
    @action(detail=True, methods=["get"])
    def health(self, request, pk=None):
        """Ask the ERP now. Never fails: an unreachable ERP answers ok false with the detail."""
        result = connection_services.connection_health(self.get_object())
        return Response({"ok": result.ok, "detail": result.detail})

    @extend_schema(request=ConnectionPauseSerializer, responses=ConnectionDetailSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        data = _input(ConnectionPauseSerializer, request.data)
        connection = connection_services.connection_pause(
            connection=self.get_object(), reason=data["reason"], actor=request.user
        )
        return Response(self._detail(connection))

    @extend_schema(request=ConnectionResumeSerializer, responses=ConnectionDetailSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        data = _input(ConnectionResumeSerializer, request.data)
        connection = connection_services.connection_resume(
            connection=self.get_object(), reason=data["reason"], actor=request.user
        )
        return Response(self._detail(connection))

    @extend_schema(
        request=MaintenanceWindowInputSerializer, responses={201: MaintenanceWindowSerializer}
    )
    @action(detail=True, methods=["post"], url_path="maintenance-windows")
    def maintenance_windows(self, request, pk=None):
        data = _input(MaintenanceWindowInputSerializer, request.data)
        window = connection_services.maintenance_window_add(
            connection=self.get_object(), actor=request.user, **data
        )
        return Response(MaintenanceWindowSerializer(window).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"maintenance-windows/(?P<window_pk>\d+)")
    def maintenance_window_remove(self, request, pk=None, window_pk=None):
        connection = self.get_object()
        window = MaintenanceWindow.objects.filter(pk=window_pk, connection=connection).first()
        if window is None:
            raise Http404("no such maintenance window")
        connection_services.maintenance_window_remove(window=window, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- end rules and connections ------------------------------------------------------------
