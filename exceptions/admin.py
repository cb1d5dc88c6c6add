from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from exceptions.models import Case, CaseComment


class CaseCommentInline(admin.TabularInline):
    model = CaseComment
    extra = 0
    readonly_fields = ["author", "body", "created_at"]
    can_delete = False


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
        "blocking",
        "sla_due_at",
        "owner",
    ]
    list_filter = ["state", "severity", "blocking", "kind"]
    search_fields = ["title", "subject_label", "subject_id", "customer", "partner"]
    list_select_related = ["owner", "subject_type"]
    readonly_fields = [
        "state",
        "subject_type",
        "subject_id",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "resolution",
    ]
    raw_id_fields = ["owner"]
    inlines = [CaseCommentInline]


@admin.register(CaseComment)
class CaseCommentAdmin(SimpleHistoryAdmin):
    list_display = ["id", "case", "author", "created_at"]
    list_select_related = ["case", "author"]
    raw_id_fields = ["case", "author"]
