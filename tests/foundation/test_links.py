"""config.links.reverse_id gives what django.urls.reverse gives, for every record page it
serves, under any script prefix, and hands anything else to reverse."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix
from hypothesis import given, settings
from hypothesis import strategies as st

from config.links import reverse_id

VIEWS = [
    "exceptions:case-detail",
    "erp_sync:job-detail",
    "erp_sync:connection-detail",
    "billing:event-detail",
    "reconciliation:run-detail",
    "reconciliation:break-detail",
    "partners:settlement-detail",
    "partners:partner-detail",
]


@pytest.fixture(autouse=True)
def _script_prefix():
    yield
    set_script_prefix("/")


@settings(max_examples=200, deadline=None)
@given(
    view=st.sampled_from(VIEWS),
    pk=st.integers(0, 10**12),
    prefix=st.sampled_from(["/", "/concord/", "/a b/"]),
)
def test_reverse_id_equals_reverse(view, pk, prefix):
    set_script_prefix(prefix)
    assert reverse_id(view, pk) == reverse(view, args=[pk])


def test_reverse_id_hands_other_arguments_to_reverse():
    assert reverse_id("billing:invoice-detail", "INV-1") == reverse(
        "billing:invoice-detail", args=["INV-1"]
    )
    with pytest.raises(NoReverseMatch):
        reverse_id("exceptions:case-detail", -1)  # reverse refuses it too
    with pytest.raises(NoReverseMatch):
        reverse_id("exceptions:case-detail", "abc")
