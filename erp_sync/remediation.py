"""The fixes erp_sync offers on cases raised on a sync job: replay it, or cancel it."""

from erp_sync.choices import SyncJobState
from erp_sync.models import SyncJob
from exceptions.remediation import RemediationAction

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
