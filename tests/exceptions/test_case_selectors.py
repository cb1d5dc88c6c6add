import pytest

from exceptions.selectors import case_get, case_list, cases_blocking, cases_for_subject
from tests.exceptions.factories import CaseCommentFactory, CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def _ids(queryset):
    return set(queryset.values_list("pk", flat=True))


def test_cases_for_subject_lists_every_state_of_that_subject_only():
    subject = UserFactory()
    mine = {
        CaseFactory(subject=subject, kind="a").pk,
        CaseFactory(subject=subject, kind="b", dismissed=True).pk,
    }
    CaseFactory(kind="a")
    assert _ids(cases_for_subject(subject)) == mine


def test_case_get_prefetches_comments(django_assert_num_queries):
    comment = CaseCommentFactory()
    with django_assert_num_queries(2):
        case = case_get(comment.case_id)
        assert [c.author.username for c in case.comments.all()] == [comment.author.username]


def test_case_list_with_filters_applies_the_filterset():
    wanted = CaseFactory(entity="US01", severity="critical")
    CaseFactory(entity="US01", severity="low")
    CaseFactory(entity="DE01", severity="critical")
    assert _ids(case_list(filters={"entity": "US01", "severity": ["critical"]})) == {wanted.pk}


def test_cases_blocking_matches_scope_and_ignores_closed_and_non_blocking():
    hit_customer = CaseFactory(entity="US01", customer="c-1", period="2026-05")
    hit_partner = CaseFactory(entity="US01", partner="p-1", period="2026-05", acknowledged=True)
    hit_entity_wide = CaseFactory(entity="US01", period="2026-05")
    hit_any_period = CaseFactory(entity="US01", customer="c-2")
    CaseFactory(entity="US01", customer="c-1", period="2026-05", blocking=False)
    CaseFactory(entity="US01", customer="c-1", period="2026-05", resolved=True)
    CaseFactory(entity="US01", customer="c-9", period="2026-05")
    CaseFactory(entity="US01", partner="p-2", period="2026-05")
    CaseFactory(entity="US01", customer="c-1", period="2026-04")
    CaseFactory(entity="DE01", customer="c-1", period="2026-05")

    found = cases_blocking(entity="US01", customers=["c-1", "c-2"], partner="p-1", period="2026-05")

    assert _ids(found) == {hit_customer.pk, hit_partner.pk, hit_entity_wide.pk, hit_any_period.pk}


def test_cases_blocking_without_arguments_lists_every_active_blocking_case():
    active = CaseFactory()
    CaseFactory(blocking=False)
    CaseFactory(dismissed=True)
    assert _ids(cases_blocking()) == {active.pk}
