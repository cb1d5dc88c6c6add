"""Console page of a run's suggested matches: confirm or reject one or several, refusals,
permissions and query counts (the seeded scenario's recurring pair gives the suggestions)."""

import re

import pytest
from django.urls import reverse

from reconciliation.choices import MatchStatus
from reconciliation.models import Match
from tests.reconciliation import scenario
from tests.reconciliation.kpi_data import execute

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


@pytest.fixture
def run(finance_ops):
    s = scenario.build()
    return execute(s.connection.entity, finance_ops)


@pytest.fixture
def signed_in(client, finance_ops):
    client.force_login(finance_ops)
    return client


def _suggested(run) -> list[int]:
    return list(
        Match.objects.filter(run=run, status=MatchStatus.SUGGESTED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _shown(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-match-id="(\d+)"', response.content.decode())]


def test_run_matches_lists_suggestions_by_default(signed_in, run):
    response = signed_in.get(reverse("reconciliation:run-matches", args=[run.pk]))

    assert sorted(_shown(response)) == _suggested(run)
    assert len(_suggested(run)) >= 2
    assert 'name="matches"' in response.content.decode()


def test_run_matches_status_filter_blank_lists_every_match(signed_in, run):
    response = signed_in.get(reverse("reconciliation:run-matches", args=[run.pk]), {"status": ""})

    assert len(_shown(response)) == Match.objects.filter(run=run).count()


def test_run_matches_decide_confirm_one(signed_in, run):
    first = _suggested(run)[0]

    response = signed_in.post(
        reverse("reconciliation:run-matches-decide", args=[run.pk]),
        {"matches": [first], "decision": "confirm", "note": "same invoice"},
    )

    assert response.status_code == 302
    assert Match.objects.get(pk=first).status == MatchStatus.CONFIRMED


def test_run_matches_decide_reject_in_bulk(signed_in, run):
    ids = _suggested(run)

    signed_in.post(
        reverse("reconciliation:run-matches-decide", args=[run.pk]),
        {"matches": ids, "decision": "reject"},
    )

    assert set(Match.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        MatchStatus.REJECTED
    }


def test_run_matches_decide_rule_match_is_refused_whole(signed_in, run):
    ids = _suggested(run)
    rule_match = Match.objects.filter(run=run, status=MatchStatus.MATCHED).first().pk

    response = signed_in.post(
        reverse("reconciliation:run-matches-decide", args=[run.pk]),
        {"matches": [ids[0], rule_match], "decision": "reject"},
        follow=True,
    )

    assert "Nothing decided" in response.content.decode()
    assert Match.objects.get(pk=ids[0]).status == MatchStatus.SUGGESTED


def test_run_matches_decide_match_of_another_run_is_refused(signed_in, run, finance_ops):
    later = execute(run.entity, finance_ops)
    theirs = _suggested(later)[0]

    response = signed_in.post(
        reverse("reconciliation:run-matches-decide", args=[run.pk]),
        {"matches": [theirs], "decision": "confirm"},
        follow=True,
    )

    assert "not matches of run" in response.content.decode()
    assert Match.objects.get(pk=theirs).status == MatchStatus.SUGGESTED


def test_run_matches_decide_auditor_is_403(client, make_user, run):
    client.force_login(make_user("aud", "auditor"))
    first = _suggested(run)[0]

    response = client.post(
        reverse("reconciliation:run-matches-decide", args=[run.pk]),
        {"matches": [first], "decision": "confirm"},
    )

    assert response.status_code == 403
    assert Match.objects.get(pk=first).status == MatchStatus.SUGGESTED


def test_run_matches_query_count_same_for_many_matches(
    signed_in, run, django_assert_max_num_queries
):
    url = reverse("reconciliation:run-matches", args=[run.pk])
    with django_assert_max_num_queries(50) as few:
        few_page = signed_in.get(url)

    with django_assert_max_num_queries(len(few.captured_queries)):
        many_page = signed_in.get(url, {"status": ""})

    assert len(_shown(many_page)) > 3 * len(_shown(few_page))
