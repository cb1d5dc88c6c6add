"""Shapes of cases in the API. Validation here is about shape; rules live in services."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from exceptions.models import Case, CaseComment
from exceptions.remediation import case_remediations


class CaseSerializer(serializers.ModelSerializer):
    subject_type = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "kind",
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
            "sla_due_at",
            "overdue",
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


class CaseDetailSerializer(CaseSerializer):
    detail = serializers.JSONField(read_only=True)
    comments = CaseCommentSerializer(many=True, read_only=True)
    history = serializers.SerializerMethodField()
    remediations = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "detail", "comments", "history", "remediations"]
        read_only_fields = fields

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
