"""Console pages of cases: a filtered list, one case, and the POST commands on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.console import filtered_page, get_or_404, history_rows
from config.errors import DomainError
from exceptions import services
from exceptions.filters import CaseFilterSet
from exceptions.forms import CaseCommentForm, CaseReasonForm, CaseRemediateForm
from exceptions.models import Case
from exceptions.remediation import case_remediate, case_remediations
from exceptions.selectors import case_get, case_list


def _case_or_404(pk: int) -> Case:
    return get_or_404(case_get, pk, "case")


@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def case_list_view(request):
    return render(
        request, "exceptions/case_list.html", filtered_page(request, CaseFilterSet, case_list())
    )


@login_required
@permission_required("exceptions.view_case", raise_exception=True)
def case_detail_view(request, pk: int):
    case = _case_or_404(pk)
    return render(
        request,
        "exceptions/case_detail.html",
        {
            "case": case,
            "history": history_rows(case),
            "remediations": case_remediations(case, request.user),
            "reason_form": CaseReasonForm(),
            "comment_form": CaseCommentForm(),
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
