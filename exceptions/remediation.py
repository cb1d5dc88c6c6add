"""How a subject's own app offers fixes for the cases raised on its records.

This app sits at the bottom of the layers, so it cannot know how to replay a billing event
or a sync job. Instead the app owning a model registers a provider for it from its
AppConfig.ready:

    register_remediation(FinanceEvent, FinanceEventRemediation())

A provider lists the actions it offers on one subject for one user and performs one by key.
A provider for the subjects of cases grouped by cause (where the subject is what the cause
hangs on and the blocked records are the case's items) also implements
`case_actions(case, subject, user)` and `case_perform(case, subject, key, actor)`, used for
those cases. The console and the API show only the actions whose permission the user holds.

A provider may also explain the case in finance words and guide its fix: an optional
`guide(case, subject, user) -> CaseGuide | None` names a template (owned by the provider's
app) and its context; the case page renders it in its "What happened and how to fix it"
section. Guides are read-only: anything they offer posts to the owning app's own views.
"""

from dataclasses import dataclass
from typing import Protocol

from django.db import models

from exceptions.errors import RemediationError
from exceptions.models import Case


@dataclass(frozen=True)
class RemediationAction:
    key: str  # stable, e.g. "replay_event"
    label: str  # the button text
    permission: str  # "app.codename" the acting person must hold
    style: str = "primary"  # button style: primary, secondary, danger


@dataclass(frozen=True)
class CaseGuide:
    template: str  # e.g. "erp_sync/guides/missing_mapping.html"
    context: dict  # what that template reads, under the name `guide` (guide.context.…)


class RemediationProvider(Protocol):
    def actions(self, subject: models.Model, user) -> list[RemediationAction]:
        """The fixes that apply to `subject` in its current state (permission is checked here)."""

    def perform(self, subject: models.Model, key: str, actor) -> str:
        """Carry out action `key` through the owning app's services; return a message."""


_providers: dict[type[models.Model], RemediationProvider] = {}


def register_remediation(model_class: type[models.Model], provider: RemediationProvider) -> None:
    """Make `provider` the source of fixes for cases whose subject is a `model_class`."""
    _providers[model_class._meta.concrete_model] = provider


def unregister_remediation(model_class: type[models.Model]) -> None:
    _providers.pop(model_class._meta.concrete_model, None)


def _provider_and_subject(case: Case) -> tuple[RemediationProvider | None, models.Model | None]:
    model_class = case.subject_type.model_class()
    provider = _providers.get(model_class) if model_class is not None else None
    if provider is None:
        return None, None
    return provider, case.subject


def _offered(provider, case: Case, subject, user) -> list[RemediationAction]:
    if case.cause_key:
        if not hasattr(provider, "case_actions"):
            return []
        return provider.case_actions(case, subject, user)
    return provider.actions(subject, user)


def case_remediations(case: Case, user) -> list[RemediationAction]:
    """The fixes `user` may apply to `case` now; empty for a closed case or a gone subject."""
    if not case.is_active:
        return []
    provider, subject = _provider_and_subject(case)
    if provider is None or subject is None:
        return []
    return [
        action
        for action in _offered(provider, case, subject, user)
        if user.has_perm(action.permission)
    ]


def case_guide(case: Case, user) -> CaseGuide | None:
    """The explanation and guided fix the subject's app offers for `case`, if any."""
    provider, subject = _provider_and_subject(case)
    if provider is None or subject is None or not hasattr(provider, "guide"):
        return None
    return provider.guide(case, subject, user)


def case_remediate(*, case: Case, key: str, actor) -> str:
    """Apply fix `key` to the subject of `case`; return the provider's message.

    Raises RemediationError(code="unknown_remediation") when `key` is not offered for the
    case now, and RemediationError(code="remediation_forbidden", status 403) when `actor`
    lacks the action's permission. The provider's services write history and resolve the
    case (cases_resolve_for_subject) when the fix took.
    """
    provider, subject = _provider_and_subject(case) if case.is_active else (None, None)
    offered = (
        {a.key: a for a in _offered(provider, case, subject, actor)} if subject is not None else {}
    )
    action = offered.get(key)
    if action is None:
        raise RemediationError(
            f"no remediation {key!r} is offered for case #{case.pk}",
            code="unknown_remediation",
            field="action",
            status=400,
        )
    if not actor.has_perm(action.permission):
        raise RemediationError(
            f"you may not {action.label.lower()}", code="remediation_forbidden", status=403
        )
    if case.cause_key:
        return provider.case_perform(case, subject, key, actor)
    return provider.perform(subject, key, actor)
