"""Console pages of reconciliation runs, their breaks and suggested matches.

Each view checks a permission, parses its input and calls one selector or service. The run
page polls its progress partial with htmx while the run is queued or running; the partial
asks for a full reload (HX-Refresh) once the run has finished, so the results appear.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.console import filtered_page, get_or_404, history_rows
from config.errors import DomainError
from exceptions.selectors import cases_for_subject, open_cases_touching
from reconciliation.choices import ACTIVE_RUN_STATES, BreakState, MatchStatus
from reconciliation.export import breaks_csv, export_filename
from reconciliation.filters import BreakFilterSet, MatchFilterSet, ReconciliationRunFilterSet
from reconciliation.forms import BreakAcceptForm, MatchDecisionForm, RunStartForm
from reconciliation.selectors import break_get, break_list, match_list, run_get, run_list
from reconciliation.services.breaks import break_accept
from reconciliation.services.matches import suggestions_confirm, suggestions_reject
from reconciliation.services.remediation import (
    REPLAY_PERMISSION,
    break_posting_replay,
    posting_replayable,
)
from reconciliation.services.runs import run_start

VIEW_RUN = "reconciliation.view_reconciliationrun"
START_RUN = "reconciliation.add_reconciliationrun"
VIEW_BREAK = "reconciliation.view_break"
CHANGE_BREAK = "reconciliation.change_break"
VIEW_MATCH = "reconciliation.view_match"
CHANGE_MATCH = "reconciliation.change_match"


def _errors(form) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


# --- runs -------------------------------------------------------------------------------


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def run_list_view(request):
    context = filtered_page(request, ReconciliationRunFilterSet, run_list())
    if request.user.has_perm(START_RUN):
        context["start_form"] = RunStartForm()
    return render(request, "reconciliation/run_list.html", context)


@require_POST
@login_required
@permission_required(START_RUN, raise_exception=True)
def run_start_view(request):
    form = RunStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Run not started: {_errors(form)}")
        return redirect("reconciliation:run-list")
    period = form.cleaned_data["period"]
    try:
        run = run_start(
            entity=form.cleaned_data["entity"],
            period_start=period.start,
            period_end=period.end,
            scope=form.cleaned_data["scope"],
            actor=request.user,
        )
    except DomainError as error:
        messages.error(request, f"Run not started: {error.message}")
        return redirect("reconciliation:run-list")
    messages.success(request, f"Run #{run.pk} queued.")
    return redirect("reconciliation:run-detail", pk=run.pk)


def _run_or_404(pk: int):
    return get_or_404(run_get, pk, "reconciliation run")


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def run_detail_view(request, pk: int):
    run = _run_or_404(pk)
    return render(
        request,
        "reconciliation/run_detail.html",
        {"run": run, "active": run.state in ACTIVE_RUN_STATES, "history": history_rows(run)},
    )


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def run_progress_view(request, pk: int):
    """The progress partial; polled while the run is active."""
    run = _run_or_404(pk)
    active = run.state in ACTIVE_RUN_STATES
    response = render(request, "reconciliation/_run_progress.html", {"run": run, "active": active})
    if not active and request.GET.get("poll"):
        response["HX-Refresh"] = "true"
    return response


# --- breaks -----------------------------------------------------------------------------


@login_required
@permission_required(VIEW_BREAK, raise_exception=True)
def run_breaks_view(request, pk: int):
    run = _run_or_404(pk)
    context = filtered_page(request, BreakFilterSet, break_list(run=run))
    context.update(
        run=run,
        export_url=reverse("reconciliation:run-break-export", args=[run.pk]),
        can_accept=request.user.has_perm(CHANGE_BREAK),
    )
    return render(request, "reconciliation/break_list.html", context)


@login_required
@permission_required(VIEW_BREAK, raise_exception=True)
def break_list_view(request):
    context = filtered_page(request, BreakFilterSet, break_list())
    context.update(
        export_url=reverse("reconciliation:break-export"),
        can_accept=request.user.has_perm(CHANGE_BREAK),
    )
    return render(request, "reconciliation/break_list.html", context)


def _csv(request, queryset) -> StreamingHttpResponse:
    filterset = BreakFilterSet(request.GET or None, queryset=queryset)
    response = StreamingHttpResponse(breaks_csv(filterset.qs), content_type="text/csv")
    filename = export_filename(request.GET)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@permission_required(VIEW_BREAK, raise_exception=True)
def break_export_view(request):
    """Every break the filters select, as CSV."""
    return _csv(request, break_list())


@login_required
@permission_required(VIEW_BREAK, raise_exception=True)
def run_break_export_view(request, pk: int):
    """The run's breaks the filters select, as CSV."""
    return _csv(request, break_list(run=_run_or_404(pk)))


@login_required
@permission_required(VIEW_BREAK, raise_exception=True)
def break_detail_view(request, pk: int):
    item = get_or_404(break_get, pk, "break")
    return render(
        request,
        "reconciliation/break_detail.html",
        {
            "item": item,
            "history": history_rows(item),
            "can_accept": item.state == BreakState.OPEN and request.user.has_perm(CHANGE_BREAK),
            "can_replay": posting_replayable(item) and request.user.has_perm(REPLAY_PERMISSION),
            "accept_form": BreakAcceptForm(),
            "cases": cases_for_subject(item).order_by("-id"),
            "open_cases": open_cases_touching([item]),
        },
    )


@require_POST
@login_required
@permission_required(CHANGE_BREAK, raise_exception=True)
def break_accept_view(request, pk: int):
    item = get_or_404(break_get, pk, "break")
    form = BreakAcceptForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not accepted: {_errors(form)}")
    else:
        try:
            break_accept(item=item, note=form.cleaned_data["note"], actor=request.user)
        except DomainError as error:
            messages.error(request, f"Not accepted: {error.message}")
        else:
            messages.success(request, "Break accepted.")
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("reconciliation:break-detail", pk=item.pk)


@require_POST
@login_required
@permission_required(REPLAY_PERMISSION, raise_exception=True)
def break_replay_view(request, pk: int):
    """Replay the posting of the document an open missing_in_erp break names."""
    item = get_or_404(break_get, pk, "break")
    try:
        done = break_posting_replay(item=item, actor=request.user)
    except DomainError as error:
        messages.error(request, f"Not replayed: {error.message}")
    else:
        messages.success(
            request, f"Posting replayed: {done}. The next run resolves the break once the ERP "
            "lists the document.",
        )  # fmt: skip
    return redirect("reconciliation:break-detail", pk=item.pk)


# --- suggested matches ------------------------------------------------------------------


@login_required
@permission_required(VIEW_MATCH, raise_exception=True)
def run_matches_view(request, pk: int):
    run = _run_or_404(pk)
    data = request.GET.copy()
    data.setdefault("status", MatchStatus.SUGGESTED)
    request.GET = data
    context = filtered_page(request, MatchFilterSet, match_list(run=run))
    context.update(run=run, can_decide=request.user.has_perm(CHANGE_MATCH))
    return render(request, "reconciliation/match_list.html", context)


@require_POST
@login_required
@permission_required(CHANGE_MATCH, raise_exception=True)
def run_matches_decide_view(request, pk: int):
    run = _run_or_404(pk)
    form = MatchDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing decided: {_errors(form)}")
        return redirect("reconciliation:run-matches", pk=run.pk)
    decide = (
        suggestions_confirm if form.cleaned_data["decision"] == "confirm" else (suggestions_reject)
    )
    ids = form.cleaned_data["matches"]
    foreign = set(ids) - set(match_list(run=run).filter(pk__in=ids).values_list("pk", flat=True))
    if foreign:
        messages.error(request, f"Nothing decided: not matches of run #{run.pk}: {sorted(foreign)}")
        return redirect("reconciliation:run-matches", pk=run.pk)
    try:
        done = decide(matches=ids, note=form.cleaned_data["note"], actor=request.user)
    except DomainError as error:
        messages.error(request, f"Nothing decided: {error.message}")
    else:
        verb = "confirmed" if decide is suggestions_confirm else "rejected"
        messages.success(request, f"{len(done)} suggestion(s) {verb}.")
    return redirect("reconciliation:run-matches", pk=run.pk)
