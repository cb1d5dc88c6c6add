"""The fix reconciliation offers on the case of a break: replay the missing posting."""

from exceptions.remediation import RemediationAction, register_remediation
from reconciliation.models import Break

REPLAY_POSTING = RemediationAction(
    key="replay_posting",
    label="Replay the missing posting",
    permission="erp_sync.replay_syncjob",
)


class BreakRemediation:
    """Replay applies to an open missing_in_erp break only."""

    def actions(self, subject: Break, user) -> list[RemediationAction]:
        from reconciliation.services.remediation import posting_replayable

        return [REPLAY_POSTING] if posting_replayable(subject) else []

    def perform(self, subject: Break, key: str, actor) -> str:
        from reconciliation.services.remediation import break_posting_replay

        return break_posting_replay(item=subject, actor=actor)


def register_break_remediation() -> None:
    register_remediation(Break, BreakRemediation())
