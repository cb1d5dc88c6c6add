"""The fixes billing offers on cases raised on a FinanceEvent: replay it, or discard it."""

from billing.choices import FinanceEventState
from billing.errors import BillingError
from billing.models import FinanceEvent
from exceptions.remediation import RemediationAction, register_remediation

REPLAY = RemediationAction(
    key="replay", label="Replay event", permission="billing.replay_financeevent"
)
DISCARD = RemediationAction(
    key="discard",
    label="Discard event",
    permission="billing.discard_financeevent",
    style="danger",
)


class FinanceEventRemediation:
    """Replay and discard apply to a quarantined event only."""

    def actions(self, subject: FinanceEvent, user) -> list[RemediationAction]:
        if subject.state != FinanceEventState.QUARANTINED:
            return []
        return [REPLAY, DISCARD]

    def perform(self, subject: FinanceEvent, key: str, actor) -> str:
        from billing.services import event_discard, event_replay

        if key == REPLAY.key:
            try:
                event_replay(event=subject, actor=actor)
            except BillingError as error:
                if error.code != "still_quarantined":
                    raise
                return error.message
            return f"event {subject} replayed and applied"
        if key == DISCARD.key:
            event_discard(event=subject, actor=actor, reason="discarded from its exception case")
            return f"event {subject} discarded"
        raise BillingError(f"unknown action {key!r}", code="unknown_remediation", status=400)


def register_event_remediation() -> None:
    register_remediation(FinanceEvent, FinanceEventRemediation())
