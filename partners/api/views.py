"""Viewsets of the partners API: reads through selectors and FilterSets; settlement commands
are POST actions that call one service each (the services enforce four-eyes and holds)."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.accounts.models import ApiClient
from partners import selectors, statements
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
# Internal roles and partner (portal) users both hold view_own_statements; what each one
# sees is narrowed by selectors.scoped (a partner user: its own partner only, else 404).
_READ_OWN = (selectors.OWN_PARTNER, "read")


class _PortalScoped:
    """Reads narrowed to the caller's partner for partner users (API clients read all)."""

    def scope(self, queryset):
        who = None if isinstance(self.request.auth, ApiClient) else self.request.user
        return selectors.scoped(queryset, who)


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


class AccrualViewSet(_PortalScoped, _ReadOnly):
    """Accruals: which source, rule and rate produced each amount, and why."""

    queryset = selectors.accrual_list()
    serializer_class = serializers.AccrualSerializer
    filterset_class = AccrualFilterSet
    required_permissions = {"list": _READ_OWN, "retrieve": _READ_OWN}

    def get_queryset(self):
        return self.scope(super().get_queryset())


class SettlementViewSet(_PortalScoped, _ReadOnly):
    """Settlements per partner, period and currency; commands move them along."""

    queryset = selectors.settlement_detail_queryset()
    serializer_class = serializers.SettlementSerializer
    filterset_class = SettlementFilterSet
    required_permissions = {
        "list": _READ_OWN,
        "retrieve": _READ_OWN,
        "statement_csv": _READ_OWN,
        "statement_pdf": _READ_OWN,
        "calculate": _PREPARE,
        "submit": _PREPARE,
        "approve": _APPROVE,
        "reject": _APPROVE,
        "pay": _PREPARE,
    }

    def get_queryset(self):
        if self.action == "list":
            return self.scope(selectors.settlement_list())
        return self.scope(super().get_queryset())

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

    def _statement(self):
        settlement = self.get_object()  # 404 outside the caller's scope
        try:
            return selectors.statement_get(settlement.pk, user=None)
        except statements.SettlementStatement.DoesNotExist:
            raise Http404("the statement is frozen at approval; this one is not approved") from None

    @extend_schema(request=None, responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"], url_path="statement.csv")
    def statement_csv(self, request, pk=None):
        """The frozen statement as CSV (404 before approval)."""
        return statements.download(self._statement(), "csv")

    @extend_schema(request=None, responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"], url_path="statement.pdf")
    def statement_pdf(self, request, pk=None):
        """The frozen statement as PDF (404 before approval)."""
        return statements.download(self._statement(), "pdf")

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
