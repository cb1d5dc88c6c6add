"""The fixes erp_sync offers on cases: on a sync job, replay or cancel it; on a case grouped
by cause on a connection (a missing mapping rule, a closed period), replay or cancel every
job it blocks."""

from erp_sync.choices import SyncJobState
from erp_sync.models import SyncJob
from exceptions.models import Case
from exceptions.remediation import CaseGuide, RemediationAction
from exceptions.selectors import case_item_subject_ids

REPLAY = RemediationAction(
    key="replay", label="Replay the sync job", permission="erp_sync.replay_syncjob"
)
CANCEL = RemediationAction(
    key="cancel",
    label="Cancel the sync job",
    permission="erp_sync.cancel_syncjob",
    style="danger",
)


class SyncJobRemediation:
    def actions(self, subject: SyncJob, user) -> list[RemediationAction]:
        offered = []
        if subject.state in (SyncJobState.DEAD, SyncJobState.HELD):
            offered.append(REPLAY)
        if subject.state in (SyncJobState.PENDING, SyncJobState.HELD, SyncJobState.DEAD):
            offered.append(CANCEL)
        return offered

    def perform(self, subject: SyncJob, key: str, actor) -> str:
        from erp_sync.services.jobs import job_cancel, job_replay

        if key == "replay":
            return job_replay(job=subject, actor=actor, reason="from its case").message
        job = job_cancel(job=subject, actor=actor, reason="cancelled from its case")
        return f"{job.external_id} cancelled"


class BlockedJobsRemediation:
    """For cases grouped by cause whose subject is a connection: act on the blocked jobs."""

    def actions(self, subject, user) -> list[RemediationAction]:
        return []  # a connection's own case (circuit open) clears when the ERP answers

    def perform(self, subject, key: str, actor) -> str:
        raise NotImplementedError

    def case_actions(self, case: Case, subject, user) -> list[RemediationAction]:
        count = case.item_count
        if not count:
            return []
        jobs = "job" if count == 1 else f"{count} jobs"
        return [
            RemediationAction(
                key="replay", label=f"Replay the {jobs} blocked", permission=REPLAY.permission
            ),
            RemediationAction(
                key="cancel",
                label=f"Cancel the {jobs} blocked",
                permission=CANCEL.permission,
                style="danger",
            ),
        ]

    def guide(self, case: Case, subject, user) -> CaseGuide | None:
        """The guided fix of the case's kind (erp_sync.guides), None for a kind without one."""
        from erp_sync.guides import case_guide

        return case_guide(case, subject, user)

    def case_perform(self, case: Case, subject, key: str, actor) -> str:
        from erp_sync.services.jobs import SyncJobError, job_cancel, jobs_replay

        jobs = SyncJob.objects.filter(pk__in=case_item_subject_ids(case))
        if key == "replay" and case.kind == "closed_period":
            from erp_sync.services.jobs import refuse_while_period_closed

            # One question to the ERP for the case: every job waits on the same period.
            first = jobs.filter(state=SyncJobState.HELD).order_by("pk").first()
            if first is not None:
                refuse_while_period_closed(first)
        if key == "replay":
            counts = jobs_replay(jobs=jobs, actor=actor, reason=f"from case #{case.pk}")
            failed = f", {counts['failed']} still failing" if counts["failed"] else ""
            return f"{counts['replayed']} blocked jobs replayed{failed}"
        cancelled = 0
        for job in jobs.order_by("pk"):
            try:
                job_cancel(job=job, actor=actor, reason=f"cancelled from case #{case.pk}")
            except SyncJobError:
                continue
            cancelled += 1
        return f"{cancelled} blocked jobs cancelled"
