"""Viewsets of the partners API: reads through selectors and FilterSets; settlement commands
are POST actions that call one service each (the services enforce four-eyes and holds)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from partners import selectors
from partners.api import serializers
from partners.filters import (
    AccrualFilterSet,
    AgreementFilterSet,
    PartnerFilterSet,
    SettlementFilterSet,
)
from partners.services import settlements as services

_PREPARE = ("partners.change_settlement", "settlements:write")
_APPROVE = ("partners.approve_settlement", "settlements:write")


class _ReadOnly(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pass


class PartnerViewSet(_ReadOnly):
    """Channel partners."""

    queryset = selectors.partner_list()
    serializer_class = serializers.PartnerSerializer
    filterset_class = PartnerFilterSet


class AgreementViewSet(_ReadOnly):
    """Agreement versions with their commission rules and tiers."""

    queryset = selectors.agreement_list()
    serializer_class = serializers.AgreementSerializer
    filterset_class = AgreementFilterSet


class AccrualViewSet(_ReadOnly):
    """Accruals: which source, rule and rate produced each amount, and why."""

    queryset = selectors.accrual_list()
    serializer_class = serializers.AccrualSerializer
    filterset_class = AccrualFilterSet


class SettlementViewSet(_ReadOnly):
    """Settlements per partner, period and currency; commands move them along."""

    queryset = selectors.settlement_detail_queryset()
    serializer_class = serializers.SettlementSerializer
    filterset_class = SettlementFilterSet
    required_permissions = {
        "calculate": _PREPARE,
        "submit": _PREPARE,
        "approve": _APPROVE,
        "reject": _APPROVE,
        "pay": _PREPARE,
    }

    def get_queryset(self):
        if self.action == "list":
            return selectors.settlement_list()
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.SettlementSerializer
        return serializers.SettlementDetailSerializer

    def _answer(self, settlement) -> Response:
        fresh = selectors.settlement_detail_queryset().get(pk=settlement.pk)
        return Response(serializers.SettlementDetailSerializer(fresh).data)

    @extend_schema(request=None, responses=serializers.SettlementDetailSerializer)
    @action(detail=True, methods=["post"])
    def calculate(self, request, pk=None):
        """Recompute the period's accruals and rebuild the lines (draft | calculated)."""
        return self._answer(
            services.settlement_calculate(settlement=self.get_object(), actor=request.user)
        )

    @extend_schema(request=None, responses=serializers.SettlementDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Send a calculated settlement for approval by someone else."""
        return self._answer(
            services.settlement_submit(settlement=self.get_object(), actor=request.user)
        )

    @extend_schema(request=None, responses=serializers.SettlementDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (four-eyes: not by its submitter); emits settlement.approved."""
        return self._answer(
            services.settlement_approve(settlement=self.get_object(), actor=request.user)
        )

    @extend_schema(
        request=serializers.RejectSerializer, responses=serializers.SettlementDetailSerializer
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Send a submitted settlement back with a reason."""
        data = serializers.RejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.settlement_reject(
                settlement=self.get_object(),
                actor=request.user,
                reason=data.validated_data["reason"],
            )
        )

    @extend_schema(
        request=serializers.PaySerializer, responses=serializers.SettlementDetailSerializer
    )
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        """Mark an approved or posted settlement paid with the payment reference (emits
        payout.settled)."""
        data = serializers.PaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.settlement_mark_paid(
                settlement=self.get_object(),
                actor=request.user,
                reference=data.validated_data["reference"],
                paid_at=data.validated_data.get("paid_at"),
            )
        )
