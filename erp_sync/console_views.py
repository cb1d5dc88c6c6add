"""Console pages across the chain: lineage search (any id → event → record → jobs → ERP
document → cases) and a mapping rule's versions with their history (read-only)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from config.console import actor_label, get_or_404, history_entries
from erp_sync.lineage import lineage_for_event, lineage_search
from erp_sync.models import MappingRule
from erp_sync.selectors import mapping_rule_get, mapping_rule_versions
from erp_sync.services.rules import EDITABLE_FIELDS


@require_GET
@login_required
@permission_required(["billing.view_financeevent", "erp_sync.view_syncjob"], raise_exception=True)
def lineage_view(request):
    """`?q=<any id>`: one match shows its chain; several are listed to choose from;
    `?event=<pk>` (a choice from the list) shows that event's chain."""
    text = request.GET.get("q", "").strip()
    matches = lineage_search(text) if text else []
    chosen = request.GET.get("event", "")
    events = {m.event.pk: m.event for m in matches if m.event is not None}
    event = None
    if chosen.isdigit() and int(chosen) in events:
        event = events[int(chosen)]
    elif len(events) == 1:
        event = next(iter(events.values()))
    if len(matches) == 1 and event is None:
        return redirect(matches[0].url)  # a case with no event behind it: its own page
    context = {
        "q": text,
        "matches": matches,
        "event": event,
        "chain": lineage_for_event(event) if event is not None else [],
    }
    return render(request, "erp_sync/lineage.html", context)


def _version_changes(newer: MappingRule, older: MappingRule | None) -> list[dict]:
    if older is None:
        return []
    changes = []
    for name in EDITABLE_FIELDS:
        old, new = getattr(older, name), getattr(newer, name)
        if old != new:
            label = str(MappingRule._meta.get_field(name).verbose_name).capitalize()
            changes.append({"field": label, "old": old or "—", "new": new or "—"})
    return changes


@require_GET
@login_required
@permission_required("erp_sync.view_mappingrule", raise_exception=True)
def rule_detail_view(request, pk: int):
    """One rule version, every version of its line with what changed between them and who
    made each (API clients and tasks included), and this version's own history."""
    rule = get_or_404(mapping_rule_get, pk, "mapping rule")
    versions = mapping_rule_versions(rule)
    created = {
        row.id: row
        for row in MappingRule.history.filter(
            id__in=[v.pk for v in versions], history_type="+"
        ).select_related("history_user")
    }
    rows = []
    for index, version in enumerate(versions):
        older = versions[index + 1] if index + 1 < len(versions) else None
        made = created.get(version.pk)
        rows.append(
            {
                "rule": version,
                "changes": _version_changes(version, older),
                "actor": actor_label(made.history_user) if made else "—",
                "at": made.history_date if made else version.created_at,
                "reason": made.history_change_reason if made else "",
                "correlation_id": made.correlation_id if made else "",
            }
        )
    context = {"rule": rule, "versions": rows, "history": history_entries(rule)}
    return render(request, "erp_sync/rule_detail.html", context)
