"""Replaying the missing posting of a missing_in_erp break: the service (one transaction,
audited, each state of the document's sync job), the console button and its permission, and
the case remediation; the next run resolves the break and its case."""

import pytest
from django.urls import reverse

from erp_sync.models import SandboxDocument, SyncJob
from exceptions.models import Case
from exceptions.remediation import case_remediate, case_remediations
from exceptions.selectors import case_item_subject_ids
from reconciliation.choices import BreakKind, BreakState
from reconciliation.errors import ReconciliationError
from reconciliation.models import Break
from reconciliation.services.remediation import break_posting_replay
from reconciliation.services.runs import run_execute, run_start
from tests.reconciliation import replay_data
from tests.reconciliation.replay_data import MAY_END, MAY_START, eager_celery  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
LOST_KEY = "missing_in_erp|invoice:INV-lost"


def _run(connection, actor):
    run = run_start(
        entity=connection.entity, period_start=MAY_START, period_end=MAY_END, actor=actor
    )
    return run_execute(run_id=run.pk, actor=actor)


def _case(item: Break) -> Case:
    return Case.objects.get(subject_id=str(item.pk), kind="reconciliation_missing_in_erp")


def _reasons(item: Break) -> list[str]:
    return [row.history_change_reason for row in item.history.order_by("history_id")]


def test_replay_of_a_dead_posting_posts_it_and_the_next_run_resolves_break_and_case(finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    assert month.job.state == "dead"
    assert not SandboxDocument.objects.filter(external_id=month.job.external_id).exists()

    message = break_posting_replay(item=item, actor=finance_ops)

    job = month.job
    assert job.state == "posted"
    assert "replayed with a rebuilt document" in message
    assert SandboxDocument.objects.filter(external_id=job.external_id).exists()
    item.refresh_from_db()
    assert item.state == BreakState.OPEN  # a run decides, not the replay
    assert _reasons(item)[-1].startswith("posting replayed: ")
    assert item.history.order_by("history_id").last().history_user == finance_ops
    assert (
        "from reconciliation break"
        in job.history.filter(state="pending").first().history_change_reason
    )

    third = _run(month.connection, finance_ops)

    item.refresh_from_db()
    assert (item.state, item.resolved_run_id) == (BreakState.RESOLVED, third.pk)
    assert _case(item).state == "resolved"
    assert not Break.objects.exclude(state=BreakState.RESOLVED).exists()


def test_replay_without_a_sync_job_dispatches_the_event(finance_ops):
    month = replay_data.build(dispatch_lost=False)
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)

    message = break_posting_replay(item=item, actor=finance_ops)

    assert message.startswith("posting ") and "created" in message
    assert month.job.state == "posted"
    _run(month.connection, finance_ops)
    item.refresh_from_db()
    assert item.state == BreakState.RESOLVED


def test_replay_when_the_document_still_cannot_be_built_keeps_the_job_dead_and_says_why(
    finance_ops,
):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    from erp_sync.models import MappingRule

    MappingRule.objects.all().delete()
    # The job's failure is on the one case of its cause (the rule missing on this connection).
    job_case = Case.objects.get(kind="mapping_missing")
    assert str(month.job.pk) in {str(pk) for pk in case_item_subject_ids(job_case)}

    with pytest.raises(ReconciliationError) as refused:
        break_posting_replay(item=item, actor=finance_ops)

    assert refused.value.code == "mapping_missing"
    assert month.job.state == "dead"
    job_case.refresh_from_db()
    assert job_case.occurrences == 2  # the job's case is bumped, not rolled back
    assert _reasons(item)[-1] == "replay of the posting failed: mapping_missing"


def test_replay_of_a_posting_the_job_says_is_posted_is_refused(finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    ok_job = SyncJob.objects.get(event=month.ok.event)
    SandboxDocument.objects.filter(external_id=ok_job.external_id).delete()  # lost in the ERP
    _run(month.connection, finance_ops)
    item = Break.objects.get(key="missing_in_erp|invoice:INV-ok")
    history = item.history.count()

    with pytest.raises(ReconciliationError) as refused:
        break_posting_replay(item=item, actor=finance_ops)

    assert refused.value.code == "already_posted"
    assert f"posted it as {ok_job.erp_number}" in refused.value.message
    assert item.history.count() == history


def test_replay_is_refused_for_another_kind_or_a_resolved_break(finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    Break.objects.filter(pk=item.pk).update(kind=BreakKind.AMOUNT_MISMATCH)

    with pytest.raises(ReconciliationError) as other_kind:
        break_posting_replay(item=item, actor=finance_ops)
    Break.objects.filter(pk=item.pk).update(kind=BreakKind.MISSING_IN_ERP, state="resolved")
    with pytest.raises(ReconciliationError) as resolved:
        break_posting_replay(item=item, actor=finance_ops)

    assert other_kind.value.code == resolved.value.code == "not_replayable"
    assert month.job.state == "dead"


def test_console_replay_button_for_finance_ops_posts_and_reports(client, finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    client.force_login(finance_ops)
    page = client.get(reverse("reconciliation:break-detail", args=[item.pk])).content.decode()
    assert 'data-testid="replay-posting"' in page
    assert 'data-testid="case-state">Open<' in page

    response = client.post(reverse("reconciliation:break-replay", args=[item.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("reconciliation:break-detail", args=[item.pk])
    text = response.content.decode()
    assert "Posting replayed:" in text
    assert month.job.state == "posted"


def test_console_replay_needs_the_replay_permission(client, make_user, finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    client.force_login(make_user("aud", "auditor"))

    page = client.get(reverse("reconciliation:break-detail", args=[item.pk])).content.decode()
    response = client.post(reverse("reconciliation:break-replay", args=[item.pk]))

    assert 'data-testid="replay-posting"' not in page
    assert response.status_code == 403
    assert month.job.state == "dead"


def test_console_replay_refusal_is_a_message_not_an_error(client, finance_ops):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    Break.objects.filter(pk=item.pk).update(state="accepted")
    client.force_login(finance_ops)

    response = client.post(reverse("reconciliation:break-replay", args=[item.pk]), follow=True)

    assert "Not replayed: only an open missing-in-the-ERP break" in response.content.decode()


def test_case_of_the_break_offers_the_replay_and_performs_it(finance_ops, make_user):
    month = replay_data.build()
    _run(month.connection, finance_ops)
    item = Break.objects.get(key=LOST_KEY)
    case = _case(item)
    assert Case.objects.filter(kind="reconciliation_missing_in_erp").count() == 1

    offered = [a.key for a in case_remediations(case, finance_ops)]
    auditor_offered = case_remediations(case, make_user("aud", "auditor"))
    message = case_remediate(case=case, key="replay_posting", actor=finance_ops)

    assert offered == ["replay_posting"]
    assert auditor_offered == []
    assert "replayed" in message
    assert month.job.state == "posted"
