"""No countdown erp_sync gives a task can exceed the broker's visibility timeout.

Redis holds a message with a countdown unacknowledged in the worker that took it; past the
visibility timeout it hands the message to another worker as well (the redelivery drill,
tests/drills/test_redelivery.py, shows the job survives that, but a countdown that always
outlives the timeout would post every retry twice over). Each place that enqueues with a
countdown is listed here with its bound; a new one fails the scan until it is bounded too.
"""

import re
from pathlib import Path

import pytest

from erp_sync.services.common import backoff_seconds
from erp_sync.services.tuning import REQUEUE_JITTER, TuningError, tuning_check, tuning_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing", "config", "erp_sync", "exceptions", "partners", "reconciliation")
# Where a task is given a countdown, an eta or a Celery retry; each is bounded in
# Tuning.countdown_bounds.
# (Keyword arguments: ruff format writes them without spaces around "=".)
DELAYING = re.compile(r"\b(countdown|eta)=[^=]|\.retry\(|\bretry_backoff\b|\bdefault_retry_delay\b")
# How many such places each module has: common.enqueue_post passes the countdown on; the
# three callers giving one are the retry backoff (failures), no free slot (engine) and a
# stopped batch (outcomes).
KNOWN_SITES = {
    "erp_sync/services/common.py": 1,
    "erp_sync/services/posting/engine.py": 1,
    "erp_sync/services/posting/failures.py": 1,
    "erp_sync/services/posting/outcomes.py": 1,
}


def delaying_sites() -> dict[str, int]:
    found: dict[str, int] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for line in path.read_text().splitlines():
                code = line.split("#", 1)[0]
                if DELAYING.search(code) and "def " not in code:
                    name = str(path.relative_to(ROOT))
                    found[name] = found.get(name, 0) + 1
    return found


def test_every_place_that_delays_a_task_is_bounded_here():
    assert delaying_sites() == KNOWN_SITES


@pytest.mark.parametrize("visibility", [3600, 300, 60, 10, 2])
def test_configured_countdowns_stay_within_the_visibility_timeout(settings, visibility):
    settings.CELERY_VISIBILITY_TIMEOUT = visibility
    tuning = tuning_for()
    for site, bound in tuning.countdown_bounds().items():
        assert bound <= visibility, f"{site}: a countdown of {bound:g}s > {visibility}s"


def test_the_retry_backoff_never_exceeds_its_cap_whatever_the_attempts_or_retry_after(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = 120
    cap = tuning_for().max_countdown
    assert cap <= 120 - tuning_for().visibility_margin_seconds
    for attempts in (0, 5, 30, 200):
        for retry_after in (None, 1.0, 10**6):
            countdown = backoff_seconds(
                attempts=attempts, base=1000.0, cap=cap, retry_after=retry_after
            )
            assert 0 <= countdown <= cap


def test_a_connection_cannot_set_a_requeue_past_the_visibility_timeout(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = 60
    tuning_check({"requeue_seconds": 60 / REQUEUE_JITTER})
    with pytest.raises(TuningError, match="visibility timeout"):
        tuning_check({"requeue_seconds": 60 / REQUEUE_JITTER + 1})


def test_a_retry_cap_past_the_visibility_timeout_is_clamped(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = 300
    tuning = tuning_for()
    assert tuning.retry_cap_seconds > 300
    assert tuning.max_countdown == 300 - tuning.visibility_margin_seconds
