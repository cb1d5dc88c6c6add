"""Serializers of the partners API (shape only; the services decide)."""

from rest_framework import serializers

from partners.models import (
    Accrual,
    Agreement,
    CommissionRule,
    CommissionTier,
    Partner,
    Settlement,
    SettlementLine,
)


class PartnerSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.partner_id", default=None, read_only=True)
    paying_entity = serializers.CharField(source="paying_entity.code", default=None, read_only=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "partner_id",
            "name",
            "kind",
            "parent",
            "country",
            "currency",
            "paying_entity",
        ]


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = CommissionTier
        fields = ["lower_amount", "upper_amount", "rate_percent"]


class RuleSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = CommissionRule
        fields = [
            "id",
            "code",
            "kind",
            "rate_percent",
            "unit_amount",
            "threshold_amount",
            "cap_amount",
            "floor_amount",
            "product_families",
            "countries",
            "tiers",
        ]


class AgreementSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.partner_id", read_only=True)
    rules = RuleSerializer(many=True, read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "partner",
            "reference",
            "version",
            "state",
            "supersedes",
            "effective_from",
            "effective_to",
            "currency",
            "settlement_period",
            "basis",
            "tier_mode",
            "override_on_children",
            "rules",
        ]


class AccrualSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.partner_id", read_only=True)
    rule = serializers.CharField(source="rule.code", read_only=True)
    agreement_version = serializers.IntegerField(source="agreement.version", read_only=True)
    settlement = serializers.SerializerMethodField()

    class Meta:
        model = Accrual
        fields = [
            "id",
            "partner",
            "agreement",
            "agreement_version",
            "rule",
            "source_kind",
            "source_ref",
            "accrued_on",
            "period_start",
            "period_end",
            "rate",
            "basis_amount",
            "amount",
            "currency",
            "explanation",
            "clawback_of",
            "settlement",
        ]

    def get_settlement(self, accrual) -> int | None:
        line = getattr(accrual, "settlement_line", None)
        return line.settlement_id if line is not None else None


class SettlementLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementLine
        fields = [
            "id",
            "kind",
            "accrual",
            "source_ref",
            "explanation",
            "amount",
            "currency",
            "refers_to",
        ]


class SettlementSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.partner_id", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.username", default=None)
    approved_by = serializers.CharField(source="approved_by.username", default=None)

    class Meta:
        model = Settlement
        fields = [
            "id",
            "partner",
            "period_start",
            "period_end",
            "currency",
            "state",
            "total_amount",
            "calculated_at",
            "submitted_by",
            "submitted_at",
            "approved_by",
            "approved_at",
            "rejection_reason",
            "hold_reason",
        ]
        read_only_fields = fields


class SettlementDetailSerializer(SettlementSerializer):
    lines = SettlementLineSerializer(many=True, read_only=True)

    class Meta(SettlementSerializer.Meta):
        fields = [*SettlementSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PaySerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=150, help_text="The bank payment's reference.")
    paid_at = serializers.DateTimeField(
        required=False, help_text="When the payout went out (default: now)."
    )
