"""Drill: PostgreSQL restarts while events are ingested and posted.

gunicorn serves the API, a Celery worker posts to the sandbox ERP and the sweeper loop runs,
all against the drill's own PostgreSQL cluster; a source sends invoice events throughout.
The cluster is stopped (pg_ctl stop -m fast: every session is cut) and started again a few
seconds later. Clients must get a clear 503 with the API's error shape while the database
is away (never a 500, never a stack trace), every event answered 202 must be stored, none
posted twice, and the same worker process must go on posting after the restart.

Shown to fail without the protection: without the 503 mapping (DatabaseUnavailableMiddleware,
the API exception handler's database branch and handler500) the requests cut by the restart
answer 500, and the drill fails on them.
"""

import json
import time

import pytest
from django.db import connection as db
from django.utils import timezone

from erp_sync.models import SyncAttempt
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


def _clear_503(body: str) -> bool:
    try:
        errors = json.loads(body)["errors"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(errors) and errors[0].get("code") == "database_unavailable"


def _counts(connection, accepted):
    db.close()  # this process's session was cut by the restart too
    return ledger_counts(connection, accepted)


def test_database_restart_under_load_answers_503_loses_nothing_posts_once(drill, drill_world):
    down = drill_seconds("database_down", 5)
    world = drill_world(settings=CONNECTION_SETTINGS, max_concurrency=2)
    server = drill.app_server(**KNOBS)
    worker = drill.worker(concurrency=2, **KNOBS)
    drill.sweeper(interval=1, **KNOBS)
    db.close()
    source = Source(server.base, world["token"], run="pg", threads=2, pause=0.05).start()

    time.sleep(drill_seconds("database_lead", 5))
    drill.pg.stop("fast")
    time.sleep(down)
    drill.pg.start()
    back_at, restarted_at = time.monotonic(), timezone.now()
    time.sleep(drill_seconds("database_tail", 8))
    sent = source.stop()

    accepted = [item.event["id"] for item in sent if item.accepted]
    connection = world["connection"]
    wait_all_posted(
        connection, accepted, seconds=drill_seconds("database_recovery", 90), counts=_counts
    )
    recovered_in = time.monotonic() - back_at
    counts = _counts(connection, accepted)
    posted_after = SyncAttempt.objects.filter(outcome="posted", started_at__gte=restarted_at)
    answers = source.answers()
    all_answers = [answer for item in sent for answer in item.answers]
    unclear = [a for a in all_answers if a.status == 503 and not _clear_503(a.body)]
    traces = [a for a in all_answers if "Traceback" in a.body]
    summary(
        "database-restart",
        down_s=f"{down:g}",
        sent=len(sent),
        accepted=len(accepted),
        stored=counts["stored"],
        posted=counts["posted"],
        duplicates=counts["duplicates"],
        lost=counts["lost"],
        answers=dict(sorted(answers.items())),
        recovered_s=f"{recovered_in:.0f}",
        posted_after_restart=posted_after.count(),
        worker_kept=worker.running(),
    )
    assert answers[503] > 0, "no client saw the database away"
    assert not [status for status in answers if status >= 500 and status != 503], answers
    assert not unclear, unclear[:3]
    assert not traces
    assert len(accepted) == len(sent), "an event was never accepted"
    assert counts["stored"] == len(accepted)
    assert counts["lost"] == 0
    assert counts["duplicates"] == 0
    assert worker.running(), f"the worker died:\n{worker.tail()}"
    assert posted_after.exists(), "nothing was posted after the restart"
    assert "Unrecoverable error" not in worker.text()
