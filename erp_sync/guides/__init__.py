"""The guided fixes of the cases erp_sync raises, one module per case kind.

`case_guide` is what BlockedJobsRemediation.guide answers (exceptions.remediation's hook):
the guide of the case's kind, or None for a kind without one. To add a kind, write its
`guide(case, subject, user) -> CaseGuide | None` in its own module and name it in GUIDES.
"""

from collections.abc import Callable

from erp_sync.guides import mapping, period
from exceptions.models import Case
from exceptions.remediation import CaseGuide

GUIDES: dict[str, Callable[..., CaseGuide | None]] = {
    "mapping_missing": mapping.guide,
    "closed_period": period.closed_period_guide,
}


def case_guide(case: Case, subject, user) -> CaseGuide | None:
    build = GUIDES.get(case.kind)
    return build(case, subject, user) if build is not None else None
