"""Console pages of cases: the queue, one case, and the POST commands on them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.console import PAGE_SIZE, get_or_404, history_rows
from config.errors import DomainError
from exceptions import services
from exceptions.filters import CaseFilterSet
from exceptions.forms import (
    CaseAssignForm,
    CaseBulkForm,
    CaseCommentForm,
    CaseReasonForm,
    CaseRemediateForm,
    SavedFilterForm,
)
from exceptions.kinds import consequence, what_failed
from exceptions.models import Case
from exceptions.pagination import SORTS, keyset_page, parse_sort
from exceptions.presentation import case_detail_view as detail_as_fields
from exceptions.presentation import case_subject_link, item_links
from exceptions.remediation import case_guide, case_remediate, case_remediations
from exceptions.selectors import (
    case_counts,
    case_get,
    case_item_totals,
    case_items,
    case_list,
    saved_filters,
)
from exceptions.tables import CaseItemTable, CaseTable


def _case_or_404(pk: int) -> Case:
    return get_or_404(case_get, pk, "case")


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def case_list_view(request):
    """The queue: counts per kind and SLA state, filters, sortable columns, keyset pages,
    bulk actions on the selected rows, and the person's saved filters."""
    filterset = CaseFilterSet(request.GET or None, queryset=case_list())
    page = keyset_page(filterset.qs, sort=request.GET.get("sort"), cursor=request.GET.get("cursor"))
    key, _, descending = parse_sort(page.sort)
    base = _query_without(request, "sort", "cursor")
    sort_links = {
        name: {
            "label": label,
            "query": "&".join(
                filter(None, [base, f"sort={'' if name == key and descending else '-'}{name}"])
            ),
            "active": name == key,
            "descending": descending,
        }
        for name, (_, label) in SORTS.items()
    }
    return render(
        request,
        "exceptions/case_list.html",
        {
            "filterset": filterset,
            "page": page,
            "rows": CaseTable().rows(page.rows),
            "counts": case_counts(filters=request.GET),
            "query": _query_without(request, "cursor"),
            "filter_query": base,
            "sort_links": sort_links,
            "bulk_form": CaseBulkForm(initial={"next": request.get_full_path()}),
            "saved_filters": saved_filters(request.user),
            "save_form": SavedFilterForm(initial={"query": base}),
        },
    )


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_bulk_view(request):
    """Acknowledge / assign / resolve / dismiss the selected cases with one reason."""
    form = CaseBulkForm(request.POST)
    form.is_valid()
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
    if not ids:
        messages.error(request, "Select at least one case.")
        return _back(request, reverse("exceptions:case-list"))
    try:
        counts = services.cases_bulk_act(
            cases=Case.objects.filter(pk__in=ids).only("pk"),
            action=form.cleaned_data.get("action", ""),
            actor=request.user,
            reason=form.cleaned_data.get("reason", ""),
            owner=form.cleaned_data.get("owner"),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{counts['done']} cases done, {counts['unchanged']} already so, "
            f"{counts['skipped']} not possible in their state.",
        )
    return _back(request, reverse("exceptions:case-list"))


@require_POST
@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def saved_filter_save_view(request):
    form = SavedFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A saved filter needs a name.")
        return redirect("exceptions:case-list")
    saved = services.saved_filter_save(
        user=request.user, name=form.cleaned_data["name"], query=form.cleaned_data["query"]
    )
    messages.success(request, f"Filter “{saved.name}” saved.")
    url = reverse("exceptions:case-list")
    return redirect(f"{url}?{saved.query}" if saved.query else url)


@require_POST
@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def saved_filter_delete_view(request, pk: int):
    if services.saved_filter_delete(user=request.user, pk=pk):
        messages.success(request, "Saved filter deleted.")
    return redirect("exceptions:case-list")


@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def case_detail_view(request, pk: int):
    """One case in finance words: what failed, what happens if nobody acts, its detail as
    labelled fields, its subject and blocked records as links, then the guided fix."""
    case = _case_or_404(pk)
    items = case_items(case, limit=PAGE_SIZE) if case.cause_key else []
    links = item_links(items)
    return render(
        request,
        "exceptions/case_detail.html",
        {
            "case": case,
            "headline": what_failed(case.kind),
            "consequence": consequence(case.kind),
            "detail": detail_as_fields(case),
            "subject_link": case_subject_link(case),
            "item_rows": CaseItemTable().rows((item, links[item.pk]) for item in items),
            "history": history_rows(case),
            "remediations": case_remediations(case, request.user),
            "guide": case_guide(case, request.user),
            "reason_form": CaseReasonForm(),
            "comment_form": CaseCommentForm(),
            "assign_form": CaseAssignForm(initial={"owner": case.owner_id}),
            "items": items,
            "item_totals": case_item_totals(case) if case.cause_key else [],
        },
    )


def _run(request, pk: int, command, done: str):
    """Call one service on case `pk`; a refusal becomes an error message, not a 500."""
    case = _case_or_404(pk)
    try:
        result = command(case)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, result if isinstance(result, str) else done)
    return redirect("exceptions:case-detail", pk=case.pk)


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_acknowledge_view(request, pk: int):
    return _run(
        request,
        pk,
        lambda case: services.case_acknowledge(case=case, actor=request.user),
        "Case acknowledged.",
    )


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_resolve_view(request, pk: int):
    form = CaseReasonForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    return _run(
        request,
        pk,
        lambda case: services.case_resolve(case=case, actor=request.user, reason=reason),
        "Case resolved.",
    )


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_dismiss_view(request, pk: int):
    form = CaseReasonForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    return _run(
        request,
        pk,
        lambda case: services.case_dismiss(case=case, actor=request.user, reason=reason),
        "Case dismissed.",
    )


@require_POST
@login_required
@permission_required("exceptions.add_casecomment", raise_exception=True)
def case_comment_view(request, pk: int):
    form = CaseCommentForm(request.POST)
    form.is_valid()
    body = form.cleaned_data.get("body", "")
    return _run(
        request,
        pk,
        lambda case: services.case_comment_add(case=case, actor=request.user, body=body),
        "Comment added.",
    )


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_remediate_view(request, pk: int):
    form = CaseRemediateForm(request.POST)
    form.is_valid()
    key = form.cleaned_data.get("action", "")
    return _run(
        request,
        pk,
        lambda case: case_remediate(case=case, key=key, actor=request.user),
        "Done.",
    )


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def case_assign_view(request, pk: int):
    form = CaseAssignForm(request.POST)
    form.is_valid()
    owner = form.cleaned_data.get("owner")
    reason = form.cleaned_data.get("reason", "")
    return _run(
        request,
        pk,
        lambda case: services.case_assign(
            case=case, actor=request.user, owner=owner, reason=reason
        ),
        "Case assigned.",
    )
