"""Console pages of a case's guided fix (erp_sync.guides): the rule form's case flow
(`?case=<pk>`: prefilled, accounts from the connection's chart, a preview of the draft on a
blocked document), and the replay of the jobs a case blocks as one bulk action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.console import get_or_404
from config.errors import DomainError
from erp_sync.choices import BulkActionKind
from erp_sync.forms import MappingRuleForm
from erp_sync.guides import mapping
from erp_sync.selectors import case_blocked_jobs, case_bulk_scope, connection_chart
from erp_sync.services.bulk import bulk_action_start
from erp_sync.services.rules import mapping_draft_preview
from exceptions.models import Case
from exceptions.selectors import case_get, case_item_totals, case_items

# Blocked documents offered as the preview's sample.
SAMPLES = 20


def case_url(case: Case) -> str:
    return reverse("exceptions:case-detail", args=[case.pk])


def case_flow(request) -> dict | None:
    """The rule form's case flow when the URL names `?case=<pk>` of a missing mapping: the
    case, what is missing, the chart of its connection (None when the ERP does not answer),
    the form's initial values and the blocked documents to preview on. 404 for another case."""
    pk = request.GET.get("case", "")
    if not pk:
        return None
    if not pk.isdigit():
        raise Http404("no such case")
    case = get_or_404(case_get, int(pk), "case")
    if case.kind != mapping.KIND:
        raise Http404("this case is not a missing mapping")
    connection = case.subject
    match = mapping.missing_match(case)
    return {
        "case": case,
        "case_url": case_url(case),
        "what": mapping.missing_what(match),
        "connection": connection,
        "chart": connection_chart(connection) if connection is not None else None,
        "initial": mapping.rule_initial(case),
        "samples": [(item.subject_id, item.label) for item in case_items(case, limit=SAMPLES)],
        "count": case.item_count,
        "documents": mapping.document_words(match.get("document_type", ""), case.item_count),
        "totals": case_item_totals(case),
        "preview_url": f"{reverse('erp_sync:rule-draft-preview')}?case={case.pk}",
    }


@require_POST
@login_required
@permission_required("erp_sync.view_mappingrule", raise_exception=True)
def rule_draft_preview_view(request):
    """The journal lines a blocked document of the case would post with the rule being
    written (the form's fields, not saved): the preview partial. Stores nothing."""
    flow = case_flow(request)
    context: dict = {"result": None, "error": None, "form": None}
    if flow is None:
        context["error"] = "Open the rule form from a case to preview on its blocked documents."
        return render(request, "erp_sync/rule_preview.html#preview-result", context, status=400)
    form = MappingRuleForm(request.POST)
    labels = dict(flow["samples"])
    chosen = request.POST.get("sample", "")
    blocked = case_blocked_jobs(flow["case"])
    job = (blocked.filter(pk=chosen).first() if chosen in labels else None) or blocked.first()
    if job is None:
        context["error"] = "No blocked document is left to preview on."
    elif not form.is_valid():
        context["error"] = "Fix the form first: " + "; ".join(
            f"{form.fields[name].label if name in form.fields else 'form'}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
    else:
        try:
            context["result"] = _named(
                mapping_draft_preview(
                    data=form.cleaned_data, event=job.event, connection=job.connection
                ),
                flow["chart"],
            )
        except DomainError as refused:
            context["error"] = refused.message
        context["sample"] = labels.get(str(job.pk)) or job.external_id
        context["connection"] = job.connection
    return render(request, "erp_sync/rule_preview.html#preview-result", context)


def _named(result: dict, chart) -> dict:
    """The preview with each posting's account named from the chart (when it was read)."""
    names = {account.code: account.name for account in chart or ()}
    for posting in (result.get("document") or {}).get("postings", []):
        posting["account_name"] = names.get(posting.get("account"), "")
    return result


@require_POST
@login_required
@permission_required("erp_sync.replay_syncjob", raise_exception=True)
def case_jobs_replay_view(request, pk: int):
    """Replay exactly the jobs a grouped case still blocks, as one bulk action (its progress
    shows on the case's guide); back to the case."""
    case = get_or_404(case_get, pk, "case")
    jobs = case_blocked_jobs(case)
    try:
        action = bulk_action_start(
            kind=BulkActionKind.REPLAY,
            jobs=jobs,
            actor=request.user,
            reason=f"blocked by case #{case.pk}",
            scope=case_bulk_scope(case),
        )
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Replaying the {action.total} blocked jobs.")
    return redirect(case_url(case))
