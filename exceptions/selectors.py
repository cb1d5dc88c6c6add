"""Reads of cases for the console, the API and other apps."""

from collections.abc import Iterable, Mapping

from django.db import models
from django.db.models import Q, QuerySet

from exceptions.filters import CaseFilterSet
from exceptions.models import ACTIVE_STATES, Case, CaseComment
from exceptions.services import subject_key


def case_list(*, filters: Mapping | None = None) -> QuerySet[Case]:
    """Cases, newest activity first, with subject type and owner joined.

    `filters` are CaseFilterSet parameters (as in a query string); invalid values are ignored.
    """
    queryset = Case.objects.select_related("subject_type", "owner")
    if filters:
        queryset = CaseFilterSet(filters, queryset=queryset).qs
    return queryset


def case_get(pk: int | str) -> Case:
    """One case with its comments' authors prefetched. Raises Case.DoesNotExist."""
    comments = CaseComment.objects.select_related("author")
    return case_list().prefetch_related(models.Prefetch("comments", queryset=comments)).get(pk=pk)


def cases_for_subject(subject: models.Model) -> QuerySet[Case]:
    """Every case ever raised on `subject`, in any state."""
    subject_type, subject_id = subject_key(subject)
    return case_list().filter(subject_type=subject_type, subject_id=subject_id)


def cases_blocking(
    *,
    entity: str | None = None,
    customers: Iterable[str] | None = None,
    partner: str | None = None,
    period: str | None = None,
) -> QuerySet[Case]:
    """Open/acknowledged blocking cases that hold work in the given scope.

    A blank scope key on a case means the case is not narrowed on it and so holds every
    value (a case on a whole entity holds each of its customers). `customers` and `partner`
    are one dimension: a case matches when its customer is one of `customers` or its
    partner is `partner`, or when it names neither. Omitted arguments do not filter.
    """
    queryset = case_list().filter(state__in=ACTIVE_STATES, blocking=True)
    if entity is not None:
        queryset = queryset.filter(Q(entity=entity) | Q(entity=""))
    if period is not None:
        queryset = queryset.filter(Q(period=period) | Q(period=""))
    if customers is not None or partner is not None:
        who = Q(customer="", partner="")
        if customers is not None:
            who |= Q(customer__in=list(customers))
        if partner is not None:
            who |= Q(partner=partner)
        queryset = queryset.filter(who)
    return queryset
