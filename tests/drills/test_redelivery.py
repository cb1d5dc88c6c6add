"""Drill: a visibility timeout shorter than an ERP call makes Redis deliver the task twice.

The worker runs with a 2 s visibility timeout (CELERY_VISIBILITY_TIMEOUT), looks for
expired messages every second (CELERY_UNACKED_RESTORE_INTERVAL/THROTTLE), and the sandbox
answers each post after 8 s: while the first delivery is still calling the ERP, the broker
hands the unacknowledged message out again. The second delivery finds the job in flight
(leased) and leaves it; the ERP receives one call and holds one document.

Shown to fail without the protection: with `in_flight` added to the states the claim starts
from (every delivery claims and calls), each redelivery calls the ERP again: erp_calls=4.
The sandbox still answers them with the one document (it looks the external id up), as an
ERP without that look-up would not.
"""

import re
from collections import Counter

import pytest

from erp_sync.models import SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from tests.drills.load import posting_counts, summary
from tests.drills.servers import wait_until
from tests.erp_sync.factories import make_invoice

pytestmark = [pytest.mark.drill]

VISIBILITY_TIMEOUT = 2
CALL_SECONDS = 8
CONNECTION_SETTINGS = {
    "latency_ms": CALL_SECONDS * 1000,
    "sync": {"call_timeout_seconds": 20, "lease_seconds": 30, "lease_margin_seconds": 2},
}
RECEIVED = re.compile(r"Task erp_sync\.post_job\[([0-9a-f-]+)\] received")


def test_redelivered_long_erp_call_posts_one_document(drill, drill_world):
    world = drill_world(settings=CONNECTION_SETTINGS, max_concurrency=2)
    connection = world["connection"]
    worker = drill.worker(
        concurrency=2,
        CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT,
        CELERY_UNACKED_RESTORE_INTERVAL=1,
        CELERY_UNACKED_RESTORE_THROTTLE=1,
    )
    jobs = sync_jobs_create_for_event(event=make_invoice().event, actor=None)
    assert len(jobs) == 1
    job_qs = SyncJob.objects.filter(pk=jobs[0].pk)

    wait_until(
        lambda: posting_counts(connection, job_qs)["posted"] == 1,
        timeout=CALL_SECONDS * 4,
        interval=0.5,
        message=f"job not posted:\n{worker.tail()}",
    )
    deliveries = max(Counter(RECEIVED.findall(worker.text())).values(), default=0)
    counts = posting_counts(connection, job_qs)
    # Every ERP call follows a claim, and every claim writes an "attempt N started" history
    # row (an attempt row is only written for a call whose outcome was kept).
    calls = SyncJob.history.filter(
        id=jobs[0].pk, history_change_reason__regex=r"^attempt [0-9]+ started$"
    ).count()
    summary(
        "redelivery",
        visibility_s=VISIBILITY_TIMEOUT,
        call_s=CALL_SECONDS,
        deliveries=deliveries,
        erp_calls=calls,
        sent=1,
        posted=counts["posted"],
        documents=counts["documents"],
        duplicates=counts["duplicates"],
        lost=counts["lost"],
    )
    assert deliveries >= 2, f"the message was not delivered twice:\n{worker.tail()}"
    assert calls == 1
    assert counts["documents"] == 1
    assert counts["duplicates"] == 0
