"""Serializers of the reconciliation API: shapes only, no business rules."""

import datetime as dt

from rest_framework import serializers

from billing.models import LegalEntity
from reconciliation.choices import RunScope
from reconciliation.models import Break, Match, ReconciliationRun
from reconciliation.periods import Period


class ReconciliationRunSerializer(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity.code", read_only=True)
    connection = serializers.CharField(source="connection.name", read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id", "entity", "connection", "period_start", "period_end", "scope", "state",
            "failure_reason", "progress_step", "progress_done", "progress_total",
            "erp_row_count", "billing_row_count", "matched_count", "suggested_count",
            "break_count", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReconciliationRunStartSerializer(serializers.Serializer):
    """{entity, period: "YYYY-MM", scope}; or period_start and period_end instead of period."""

    entity = serializers.SlugRelatedField(slug_field="code", queryset=LegalEntity.objects.all())
    period = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)
    scope = serializers.ChoiceField(choices=RunScope.choices, default=RunScope.DOCUMENTS)

    def validate(self, data: dict) -> dict:
        if "period" in data:
            year, month = map(int, data.pop("period").split("-"))
            start = dt.date(year, month, 1)
            following = (start + dt.timedelta(days=32)).replace(day=1)
            data["period_start"], data["period_end"] = start, following - dt.timedelta(days=1)
        elif not ("period_start" in data and "period_end" in data):
            raise serializers.ValidationError(
                {"period": "give period (YYYY-MM) or period_start and period_end"}
            )
        return data


class BreakSerializer(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity.code", read_only=True)

    class Meta:
        model = Break
        fields = [
            "id", "entity", "period_start", "period_end", "scope", "kind", "key", "state",
            "party_code", "document_date", "billing_kind", "billing_number", "billing_currency",
            "billing_total_amount", "billing_tax_amount", "billing_status", "erp_external_id",
            "erp_number", "erp_currency", "erp_total_amount", "erp_tax_amount", "erp_status",
            "difference_amount", "difference_currency", "note", "first_seen_run",
            "last_seen_run", "resolved_run", "accepted_at", "resolved_at",
        ]  # fmt: skip
        read_only_fields = fields


class BreakAcceptSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class MatchSerializer(serializers.ModelSerializer):
    billing = serializers.CharField(source="billing_row.key", read_only=True)
    erp_external_id = serializers.CharField(source="erp_row.external_id", read_only=True)
    erp_number = serializers.CharField(source="erp_row.number", read_only=True)

    class Meta:
        model = Match
        fields = [
            "id", "run", "rule", "status", "billing", "erp_external_id", "erp_number",
            "decided_at", "decision_note",
        ]  # fmt: skip
        read_only_fields = fields


class MatchDecisionSerializer(serializers.Serializer):
    matches = serializers.ListField(
        # max_value: an id beyond 64 bits is a 400, not the database's overflow (a 500).
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=1000,
    )
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class EntityPeriodQuerySerializer(serializers.Serializer):
    """?entity=CODE&period=YYYY-MM (default: the previous month); or period_start and
    period_end instead of period."""

    entity = serializers.SlugRelatedField(slug_field="code", queryset=LegalEntity.objects.all())
    period = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)

    def validate(self, data: dict) -> dict:
        if "period" in data:
            data["period"] = Period.parse(data["period"])
        elif "period_start" in data and "period_end" in data:
            if data["period_end"] < data["period_start"]:
                raise serializers.ValidationError({"period_end": "ends before it starts"})
            data["period"] = Period(data["period_start"], data["period_end"])
        elif "period_start" in data or "period_end" in data:
            raise serializers.ValidationError(
                {"period": "give period (YYYY-MM) or both period_start and period_end"}
            )
        else:
            data["period"] = Period.previous_month()
        data.pop("period_start", None)
        data.pop("period_end", None)
        return data
