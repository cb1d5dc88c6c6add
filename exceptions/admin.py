from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from exceptions.models import Case, CaseComment, CaseItem, CaseKindOwner


class CaseCommentInline(admin.TabularInline):
    model = CaseComment
    extra = 0
    readonly_fields = ["author", "body", "created_at"]
    can_delete = False


class CaseItemInline(admin.TabularInline):
    model = CaseItem
    extra = 0
    fields = ["label", "value_amount", "currency", "customer", "period", "added_at", "cleared_at"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(Case)
class CaseAdmin(SimpleHistoryAdmin):
    """Read-mostly: the state only moves through services (console and API)."""

    list_display = [
        "id",
        "kind",
        "severity",
        "state",
        "subject_label",
        "entity",
        "period",
        "occurrences",
        "item_count",
        "blocking",
        "sla_due_at",
        "escalated_at",
        "owner",
        "owner_group",
    ]
    list_filter = ["state", "severity", "blocking", "kind"]
    search_fields = ["title", "subject_label", "subject_id", "customer", "partner"]
    list_select_related = ["owner", "owner_group", "subject_type"]
    readonly_fields = [
        "state",
        "subject_type",
        "subject_id",
        "cause_key",
        "item_count",
        "escalated_at",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "resolution",
    ]
    raw_id_fields = ["owner"]
    inlines = [CaseItemInline, CaseCommentInline]


@admin.register(CaseComment)
class CaseCommentAdmin(SimpleHistoryAdmin):
    list_display = ["id", "case", "author", "created_at"]
    list_select_related = ["case", "author"]
    raw_id_fields = ["case", "author"]


@admin.register(CaseKindOwner)
class CaseKindOwnerAdmin(SimpleHistoryAdmin):
    """Which group owns each kind of case: new cases are routed to it, escalations mailed."""

    list_display = ["kind", "group"]
    list_select_related = ["group"]
