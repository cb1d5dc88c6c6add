"""`case_first_item_subject_pk` (SQL built from `_meta`, STYLE.md "Fast paths") answers what
the ORM query it replaced answers: the record of a grouped case's oldest open item among the
records that match, whatever the items' order, ties, cleared items, other kinds of record,
records gone or not matching."""

import datetime as dt
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Exists, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exceptions.models import CaseItem
from exceptions.selectors import case_first_item_subject_pk
from tests.exceptions.factories import CaseFactory

User = get_user_model()
START = timezone.now().replace(microsecond=0)
_run = itertools.count()


def orm_first_item_subject_pk(case, among):
    """The ORM query it replaced (bench_console's fourth session)."""
    record_pk = Cast(OuterRef("subject_id"), BigIntegerField())
    return (
        case.items.filter(
            Exists(among.filter(pk=record_pk)),
            cleared_at__isnull=True,
            subject_type=ContentType.objects.get_for_model(among.model),
        )
        .order_by("added_at", "id")
        .values_list(Cast("subject_id", BigIntegerField()), flat=True)[:1]
    )


_item = st.tuples(
    st.integers(0, 7),  # which record: 0-5 users, 6 a user that does not exist, 7 a group
    st.integers(0, 3),  # added this many minutes after START (ties on purpose)
    st.booleans(),  # cleared
)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(active=st.lists(st.booleans(), min_size=6, max_size=6), items=st.lists(_item, max_size=8))
def test_the_oldest_matching_open_item_is_the_one_the_orm_finds(active, items):
    run = next(_run)
    users = [User.objects.create(username=f"r{n}-{run}", is_active=a) for n, a in enumerate(active)]
    group = Group.objects.create(name=f"g-{run}")
    case = CaseFactory(cause_key=f"cause-{run}")
    user_type = ContentType.objects.get_for_model(User)
    seen = set()
    for which, minutes, cleared in items:
        if which < 6:
            kind, pk = user_type, users[which].pk
        elif which == 6:
            kind, pk = user_type, users[-1].pk + 1000
        else:
            kind, pk = ContentType.objects.get_for_model(Group), group.pk
        if (kind.pk, pk) in seen:
            continue
        seen.add((kind.pk, pk))
        CaseItem.objects.create(
            case=case,
            subject_type=kind,
            subject_id=str(pk),
            added_at=START + dt.timedelta(minutes=minutes),
            cleared_at=START if cleared else None,
        )
    for among, equal in ((User.objects.filter(is_active=True), {"is_active": True}),
                         (User.objects.all(), {})):  # fmt: skip
        fast = User.objects.filter(pk=case_first_item_subject_pk(case, User, **equal))
        slow = User.objects.filter(pk=Subquery(orm_first_item_subject_pk(case, among)))
        assert list(fast.values_list("pk", flat=True)) == list(slow.values_list("pk", flat=True))
