"""Serializers of the erp_sync API.

Rules and connections first (this block); sync-job serializers follow below it.
"""

from __future__ import annotations

from rest_framework import serializers

from erp_sync.choices import AdapterKind, ClosedPeriodPolicy, DocumentType
from erp_sync.models import Connection, MaintenanceWindow, MappingRule, validate_secret_env
from erp_sync.selectors import connection_in_flight
from erp_sync.services.connections import SECRET_KEY_RE

# --- rules and connections ----------------------------------------------------------------


class MappingRuleSerializer(serializers.ModelSerializer):
    # Blank matches any document type: the schema's enum must allow "" (found by schemathesis).
    document_type = serializers.ChoiceField(
        choices=DocumentType.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = MappingRule
        fields = [
            "id",
            "name",
            "version",
            "is_active",
            "supersedes",
            "specificity",
            "entity",
            "document_type",
            "product_family",
            "country",
            "region",
            "currency",
            "partner_kind",
            "revenue_account",
            "receivable_account",
            "tax_code",
            "tax_account",
            "cost_center",
            "erp_item",
            "subsidiary",
            "valid_from",
            "valid_to",
            "created_at",
        ]
        read_only_fields = fields


class MappingRuleSavedSerializer(MappingRuleSerializer):
    """A saved rule with what could not be checked (an ERP that did not answer)."""

    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(MappingRuleSerializer.Meta):
        fields = [*MappingRuleSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class MappingRuleWriteSerializer(serializers.Serializer):
    """The editable fields of a rule (shape only; the service checks ties, dates, accounts)."""

    name = serializers.CharField(max_length=200)
    entity = serializers.CharField(max_length=16, required=False, allow_blank=True)
    document_type = serializers.ChoiceField(
        choices=DocumentType.choices, required=False, allow_blank=True
    )
    product_family = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    region = serializers.CharField(max_length=64, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    partner_kind = serializers.CharField(max_length=16, required=False, allow_blank=True)
    revenue_account = serializers.CharField(max_length=64, required=False, allow_blank=True)
    receivable_account = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tax_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    tax_account = serializers.CharField(max_length=64, required=False, allow_blank=True)
    cost_center = serializers.CharField(max_length=64, required=False, allow_blank=True)
    erp_item = serializers.CharField(max_length=100, required=False, allow_blank=True)
    subsidiary = serializers.CharField(max_length=100, required=False, allow_blank=True)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)


class MappingPreviewInputSerializer(serializers.Serializer):
    """Either a canonical event body (`event`) or a stored event (`source` and `id`)."""

    event = serializers.JSONField(required=False)
    source = serializers.CharField(required=False, max_length=200)
    id = serializers.CharField(required=False, max_length=200)

    def validate(self, attrs):
        if "event" in attrs:
            if not isinstance(attrs["event"], dict):
                raise serializers.ValidationError({"event": "must be a JSON object"})
            return attrs
        if not (attrs.get("source") and attrs.get("id")):
            raise serializers.ValidationError("send an event body, or the source and id of one")
        return attrs


class MappingPreviewSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    event = serializers.DictField()
    document_type = serializers.CharField(allow_null=True)
    external_id = serializers.CharField()
    parent_external_id = serializers.CharField()
    rules = serializers.ListField(child=serializers.DictField())
    document = serializers.DictField(allow_null=True)
    balanced = serializers.BooleanField()
    error = serializers.DictField(allow_null=True)


def redacted(settings: dict) -> dict:
    """Settings as shown: a key that looks like a secret never shows its value."""
    shown = {}
    for key, value in (settings or {}).items():
        if SECRET_KEY_RE.search(str(key)):
            shown[key] = "***"
        elif isinstance(value, dict):
            shown[key] = redacted(value)
        else:
            shown[key] = value
    return shown


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceWindow
        fields = ["id", "starts_at", "ends_at", "reason"]


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection; `secret_env` is a variable NAME, its value is never read out."""

    entity = serializers.CharField(source="entity.code", read_only=True)
    settings = serializers.SerializerMethodField()
    in_flight = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "entity",
            "adapter_kind",
            "is_active",
            "settings",
            "secret_env",
            "max_concurrency",
            "in_flight",
            "failure_threshold",
            "open_cooldown_seconds",
            "closed_period_policy",
            "paused",
            "paused_reason",
            "circuit_state",
            "consecutive_failures",
            "opened_at",
            "last_error",
            "last_error_at",
            "last_success_at",
        ]
        read_only_fields = fields

    def validate_secret_env(self, value: str) -> str:
        validate_secret_env(value)  # for when the field becomes writable (read-only today)
        return value

    def get_settings(self, connection) -> dict:
        return redacted(connection.settings)

    def get_in_flight(self, connection) -> int:
        try:
            return connection_in_flight(connection)
        except Exception:  # the semaphore store (Redis) down must not break a read
            return 0


class ConnectionDetailSerializer(ConnectionSerializer):
    maintenance_windows = MaintenanceWindowSerializer(many=True, read_only=True)

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "maintenance_windows"]
        read_only_fields = fields


class ConnectionWriteSerializer(serializers.Serializer):
    """The shape of a connection create (POST) or change (PUT/PATCH); the service decides.

    A Tryton connection's max_concurrency is 1 (its default; more is a 400). `secret_env`
    names a CONCORD_ERP_* environment variable; settings never hold a secret.
    """

    name = serializers.CharField(max_length=100)
    entity = serializers.CharField(max_length=16, help_text="Legal entity code (create only).")
    adapter_kind = serializers.ChoiceField(choices=AdapterKind.choices)
    settings = serializers.DictField(required=False)
    secret_env = serializers.CharField(max_length=100, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    max_concurrency = serializers.IntegerField(min_value=1, max_value=32767, required=False)
    failure_threshold = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    open_cooldown_seconds = serializers.IntegerField(
        min_value=1, max_value=86_400 * 7, required=False
    )
    closed_period_policy = serializers.ChoiceField(
        choices=ClosedPeriodPolicy.choices, required=False
    )


class ConnectionUpdateSerializer(ConnectionWriteSerializer):
    """A change: the entity of a connection is fixed."""

    entity = None


class ConnectionPauseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ConnectionResumeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MaintenanceWindowInputSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class HealthSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(allow_blank=True)


# --- end rules and connections ------------------------------------------------------------
