"""Drill: the broker (Redis) is down for 30 s while events are ingested and posted.

A source sends invoice events to gunicorn without pause; Celery workers post them to the
sandbox ERP; the sweeper loop runs every second (beat's job). The broker Redis is stopped
(no persistence: every queued and unacknowledged message is gone with it) and started again
30 s later. Every event answered 202 must be stored, and every posting intent posted exactly
once after Redis returns: the sync job rows are the outbox, the sweeper re-sends what the
broker lost, the ERP never gets a second document.

Shown to fail without the protection: with the sweeper loop not started (no outbox
recovery) the jobs whose messages died with Redis stay pending and the drill reports them
lost.
"""

import contextlib
import time

import pytest

from tests.drills.conftest import drill_seconds
from tests.drills.load import Source, ledger_counts, summary
from tests.drills.servers import wait_until

pytestmark = [pytest.mark.drill]

# Short leases so a job whose worker lost the broker mid-batch is reclaimed within the drill;
# 50 ms per ERP call.
CONNECTION_SETTINGS = {
    "latency_ms": 50,
    "sync": {
        "lease_seconds": 15,
        "call_timeout_seconds": 8,
        "lease_margin_seconds": 2,
        "drain_seconds": 5,
    },
}
# The sweeper treats a job untouched this long as having lost its message.
KNOBS = {"CONCORD_ERP_STALE_PENDING_SECONDS": 5, "CONCORD_ERP_DISPATCH_GRACE_SECONDS": 5}


def test_broker_down_30s_under_load_every_accepted_event_posts_exactly_once(drill, drill_world):
    outage = drill_seconds("broker_outage", 30)
    world = drill_world(settings=CONNECTION_SETTINGS, max_concurrency=2)
    server = drill.app_server(**KNOBS)
    worker = drill.supervised_worker(concurrency=2, **KNOBS)
    drill.sweeper(interval=1, **KNOBS)
    source = Source(server.base, world["token"], run="broker", threads=2, pause=0.05).start()

    time.sleep(drill_seconds("broker_lead", 5))
    before = len(source.sent)
    drill.redis.stop()
    time.sleep(outage)
    during = len(source.sent) - before
    drill.redis.start()
    back_at = time.monotonic()
    time.sleep(drill_seconds("broker_tail", 5))
    sent = source.stop()

    accepted = [item.event["id"] for item in sent if item.accepted]
    connection = world["connection"]
    with contextlib.suppress(AssertionError):  # the counts below say what is missing
        wait_until(
            lambda: ledger_counts(connection, accepted)["posted"] >= len(accepted),
            timeout=drill_seconds("broker_recovery", 90),
            interval=1,
            message="not every accepted event was posted after Redis returned",
        )
    recovered_in = time.monotonic() - back_at
    counts = ledger_counts(connection, accepted)
    answers = source.answers()
    summary(
        "broker-down",
        outage_s=f"{outage:g}",
        sent=len(sent),
        sent_during_outage=during,
        accepted=len(accepted),
        stored=counts["stored"],
        posted=counts["posted"],
        duplicates=counts["duplicates"],
        lost=counts["lost"],
        answers=dict(sorted(answers.items())),
        recovered_s=f"{recovered_in:.0f}",
        worker_restarts=worker.restarts,
    )
    assert during > 0, "no event was sent while Redis was down"
    assert len(accepted) == len(sent), "an event was never accepted"
    assert not [status for status in answers if status >= 500 and status != 503]
    assert counts["stored"] == len(accepted)
    assert counts["lost"] == 0
    assert counts["duplicates"] == 0
    assert counts["posted"] == len(accepted)
