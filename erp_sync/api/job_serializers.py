"""Serializers of sync jobs and their attempts (shape only; the services decide)."""

from rest_framework import serializers

from erp_sync.models import SyncAttempt, SyncJob
from erp_sync.selectors import sync_job_lineage


class SyncAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "request_digest",
            "outcome",
            "error_class",
            "error_message",
            "response",
            "erp_reference",
        ]


class SyncJobSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.name")
    entity = serializers.CharField(source="connection.entity.code")
    event = serializers.SerializerMethodField()

    class Meta:
        model = SyncJob
        fields = [
            "id",
            "state",
            "hold_reason",
            "document_type",
            "external_id",
            "parent_external_id",
            "connection",
            "entity",
            "event",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "lease_expires_at",
            "erp_id",
            "erp_number",
            "posted_at",
            "posting_date",
            "last_error",
            "last_error_code",
            "cancel_reason",
            "created_at",
            "updated_at",
        ]

    def get_event(self, job: SyncJob) -> dict:
        return {"source": job.event.source, "id": job.event.event_id, "type": job.event.type}


class SyncJobDetailSerializer(SyncJobSerializer):
    attempts_log = SyncAttemptSerializer(source="attempt_log", many=True)
    lineage = serializers.SerializerMethodField()
    document = serializers.JSONField()
    mapping_rules = serializers.SerializerMethodField()

    class Meta(SyncJobSerializer.Meta):
        fields = [
            *SyncJobSerializer.Meta.fields,
            "document",
            "mapping_rules",
            "attempts_log",
            "lineage",
        ]

    def get_lineage(self, job: SyncJob) -> dict:
        return sync_job_lineage(job)

    def get_mapping_rules(self, job: SyncJob) -> list[dict]:
        return [{"id": r.pk, "name": r.name, "version": r.version} for r in job.mapping_rules.all()]


class SyncJobReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class SyncJobReplayResultSerializer(serializers.Serializer):
    replayed = serializers.BooleanField()
    message = serializers.CharField()
    job = SyncJobDetailSerializer()


class SyncJobBulkReplaySerializer(serializers.Serializer):
    filter = serializers.DictField(
        help_text="SyncJobFilterSet parameters, e.g. "
        '{"state": "dead", "last_error_code": "mapping_missing"}; at least one.'
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_filter(self, value: dict) -> dict:
        cleaned = {key: item for key, item in value.items() if item not in (None, "", [])}
        if not cleaned:
            raise serializers.ValidationError("give at least one filter (replaying all is refused)")
        return cleaned


class SyncJobBulkReplayResultSerializer(serializers.Serializer):
    matched = serializers.IntegerField()
    replayed = serializers.IntegerField()
    already_posted = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
