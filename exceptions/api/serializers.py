"""Shapes of cases in the API. Validation here is about shape; rules live in services."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from exceptions.models import Case, CaseComment, CaseItem
from exceptions.remediation import case_remediations
from exceptions.selectors import case_item_totals, case_items
from exceptions.services import BULK_ACTIONS


class CaseSerializer(serializers.ModelSerializer):
    subject_type = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    owner_group = serializers.SlugRelatedField(slug_field="name", read_only=True)
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)
    kind_label = serializers.CharField(read_only=True)
    grouped = serializers.BooleanField(source="is_grouped", read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "kind",
            "kind_label",
            "grouped",
            "item_count",
            "severity",
            "state",
            "title",
            "subject_type",
            "subject_id",
            "subject_label",
            "entity",
            "customer",
            "partner",
            "period",
            "blocking",
            "occurrences",
            "owner",
            "owner_group",
            "sla_due_at",
            "overdue",
            "escalated_at",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "resolution",
        ]
        read_only_fields = fields

    def get_subject_type(self, case: Case) -> str:
        return f"{case.subject_type.app_label}.{case.subject_type.model}"


class CaseCommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseComment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = fields


class CaseHistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="history_date")
    actor = serializers.CharField(source="history_user.username", default=None)
    reason = serializers.CharField(source="history_change_reason", default="")
    state = serializers.CharField()
    occurrences = serializers.IntegerField()


class RemediationActionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    style = serializers.CharField()


class CaseItemSerializer(serializers.ModelSerializer):
    subject_type = serializers.SerializerMethodField()

    class Meta:
        model = CaseItem
        fields = [
            "subject_type",
            "subject_id",
            "label",
            "value_amount",
            "currency",
            "customer",
            "period",
            "added_at",
        ]
        read_only_fields = fields

    def get_subject_type(self, item: CaseItem) -> str:
        return f"{item.subject_type.app_label}.{item.subject_type.model}"


class CaseItemTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    count = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)


class CaseDetailSerializer(CaseSerializer):
    detail = serializers.JSONField(read_only=True)
    comments = CaseCommentSerializer(many=True, read_only=True)
    history = serializers.SerializerMethodField()
    remediations = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField(help_text="the first 100 blocked records")
    item_totals = serializers.SerializerMethodField(help_text="blocked value per currency")

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "detail",
            "items",
            "item_totals",
            "comments",
            "history",
            "remediations",
        ]
        read_only_fields = fields

    def get_items(self, case: Case) -> list[dict]:
        if not case.cause_key:
            return []
        return CaseItemSerializer(case_items(case), many=True).data

    def get_item_totals(self, case: Case) -> list[dict]:
        if not case.cause_key:
            return []
        return CaseItemTotalSerializer(case_item_totals(case), many=True).data

    def get_history(self, case: Case) -> list[dict]:
        rows = case.history.select_related("history_user").order_by("history_date", "history_id")
        return CaseHistoryEntrySerializer(rows, many=True).data

    def get_remediations(self, case: Case) -> list[dict]:
        user = self.context["request"].user
        return RemediationActionSerializer(case_remediations(case, user), many=True).data


class CaseAcknowledgeSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_api_client=False, is_active=True),
        required=False,
        allow_null=True,
    )


class CaseReasonSerializer(serializers.Serializer):
    # Blank passes here so that the service answers with its own code, reason_required.
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CaseCommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="")


class CaseRemediateSerializer(serializers.Serializer):
    action = serializers.CharField()


class CaseRemediateResultSerializer(serializers.Serializer):
    message = serializers.CharField()
    case = CaseDetailSerializer()


class CaseAssignSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_api_client=False, is_active=True),
        allow_null=True,
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CaseBulkSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=1000,
    )
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    # Blank passes here so that the service answers with its own code, reason_required.
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_api_client=False, is_active=True),
        required=False,
        allow_null=True,
    )


class CaseBulkResultSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()


class CaseKindCountSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class CaseSlaCountSerializer(serializers.Serializer):
    breached = serializers.IntegerField()
    due_soon = serializers.IntegerField()
    on_time = serializers.IntegerField()
    escalated = serializers.IntegerField()


class CaseCountsSerializer(serializers.Serializer):
    by_kind = CaseKindCountSerializer(many=True)
    by_sla = CaseSlaCountSerializer()
    total = serializers.IntegerField(
        help_text="exact under no filter but state and entity; under any other filter the "
        "database's estimate once past the cap"
    )
    exact = serializers.BooleanField(
        help_text="false when a capped count reached the cap (1000: reported as 1001); under "
        "no filter but state and entity only the SLA counts are capped"
    )
