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

import time

import pytest

from tests.drills.conftest import drill_seconds
from tests.drills.load import (
    OUTAGE_CONNECTION_SETTINGS,
    OUTAGE_KNOBS,
    Source,
    ledger_counts,
    summary,
    wait_all_posted,
)

pytestmark = [pytest.mark.drill]

CONNECTION_SETTINGS, KNOBS = OUTAGE_CONNECTION_SETTINGS, OUTAGE_KNOBS


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
    wait_all_posted(connection, accepted, seconds=drill_seconds("broker_recovery", 90))
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
