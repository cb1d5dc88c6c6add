"""The fixes billing offers on cases raised on a FinanceEvent: replay it, discard it, or
correct and replay it (through the case's guide, which explains what happened).

The case of a chain of corrections is on the ingested event; replay and discard act on the
chain's latest version (`correction_head`), the one still quarantined.
"""

from billing.choices import FinanceEventState
from billing.errors import BillingError
from billing.models import FinanceEvent
from billing.selectors import correction_head
from exceptions.remediation import CaseGuide, RemediationAction, register_remediation

REPLAY = RemediationAction(
    key="replay", label="Replay event", permission="billing.replay_financeevent"
)
DISCARD = RemediationAction(
    key="discard",
    label="Discard event",
    permission="billing.discard_financeevent",
    style="danger",
)
GUIDE_TEMPLATE = "billing/guides/quarantined_event.html"


class FinanceEventRemediation:
    """Replay and discard apply to a quarantined event only."""

    def actions(self, subject: FinanceEvent, user) -> list[RemediationAction]:
        if correction_head(subject).state != FinanceEventState.QUARANTINED:
            return []
        return [REPLAY, DISCARD]

    def perform(self, subject: FinanceEvent, key: str, actor) -> str:
        from billing.services import event_discard, event_replay

        subject = correction_head(subject)
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

    def guide(self, case, subject: FinanceEvent, user) -> CaseGuide:
        """Why the event was quarantined, its data, what happens if nobody acts, and the
        fixes `user` may apply: replay, discard with a reason, correct and replay."""
        from billing.guides import guide_context

        head = correction_head(subject)
        return CaseGuide(GUIDE_TEMPLATE, guide_context(case, subject, head, user))


def register_event_remediation() -> None:
    register_remediation(FinanceEvent, FinanceEventRemediation())
