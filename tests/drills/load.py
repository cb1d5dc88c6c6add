"""The load of the drills: a source system sending invoice events over HTTP, and the counts
every drill reports (sent, stored, posted, duplicates, lost)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from tests.billing.factories import event_body
from tests.drills.servers import wait_until

# Every summary line of the session, printed again at its end (conftest).
SUMMARIES: list[str] = []
# A source system retries what was not answered 2xx, after this pause.
RETRY_PAUSE = 0.5

# The outage drills (broker down, database restart): short leases so a job whose worker lost
# its broker or database mid-batch is reclaimed within the drill; 50 ms per ERP call.
OUTAGE_CONNECTION_SETTINGS = {
    "latency_ms": 50,
    "sync": {
        "lease_seconds": 15,
        "call_timeout_seconds": 8,
        "lease_margin_seconds": 2,
        "drain_seconds": 5,
    },
}
# The sweeper treats a job untouched this long as having lost its message.
OUTAGE_KNOBS = {"CONCORD_ERP_STALE_PENDING_SECONDS": 5, "CONCORD_ERP_DISPATCH_GRACE_SECONDS": 5}


def invoice_event(number: int, *, run: str) -> dict:
    """A valid invoice.issued event for customer cus_x, with ids unique to the drill run."""
    return event_body(
        "invoice.issued",
        envelope={"id": f"evt-{run}-{number}"},
        invoice_id=f"inv-{run}-{number}",
        customer_id="cus_x",
    )


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused / reset / timeout)
    body: str


@dataclass
class Sent:
    """One event and every answer it got, the last one deciding."""

    event: dict
    answers: list[Answer] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return bool(self.answers) and self.answers[-1].status in (200, 202)


def post_event(base: str, token: str, body: dict, *, timeout: float = 30) -> Answer:
    request = urllib.request.Request(
        f"{base}/api/v1/events",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Answer(answer.status, answer.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode(errors="replace"))
    except (OSError, urllib.error.URLError) as error:
        return Answer(0, f"{type(error).__name__}: {error}")


class Source:
    """`threads` threads, each sending new events one after another (`pause` between them)
    until stopped; an event not answered 2xx is sent again until it is, or until `give_up`
    seconds after the stop."""

    def __init__(self, base: str, token: str, *, run: str, threads: int = 2, pause: float = 0.1):
        self.base = base
        self.token = token
        self.run = run
        self.pause = pause
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._numbers = iter(range(1, 10**9))
        self._stop = threading.Event()
        self._give_up_at = float("inf")
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def start(self) -> Source:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, *, give_up: float = 60) -> list[Sent]:
        self._give_up_at = time.monotonic() + give_up
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=give_up + 35)
        return self.sent

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                item = Sent(invoice_event(next(self._numbers), run=self.run))
                self.sent.append(item)
            while True:
                answer = post_event(self.base, self.token, item.event)
                item.answers.append(answer)
                if item.accepted or time.monotonic() > self._give_up_at:
                    break
                time.sleep(RETRY_PAUSE)
            time.sleep(self.pause)

    def answers(self) -> Counter:
        """How many answers of each status (0: none) the source got, retries included."""
        return Counter(answer.status for item in self.sent for answer in item.answers)


def ledger_counts(connection, event_ids: list[str]) -> dict[str, int]:
    """What became of the events `event_ids` of source billing-platform (this process's ORM):

    stored: events in the log; applied: of those, applied; posted: their sync jobs posted;
    documents: sandbox documents of `connection`; duplicates: documents beyond one per job
    (two with one external id, or one whose external id no job has) plus jobs with two
    "posted" attempts; lost: accepted events not stored, or stored and applied but without a
    posted job.
    """
    from billing.models import FinanceEvent
    from erp_sync.models import SyncJob

    events = FinanceEvent.objects.filter(source="billing-platform", event_id__in=event_ids)
    stored = events.count()
    applied = events.filter(state="applied").count()
    counts = posting_counts(connection, SyncJob.objects.filter(event__in=events))
    return {
        "stored": stored,
        "applied": applied,
        **counts,
        "lost": (len(event_ids) - stored) + (applied - counts["posted"]),
    }


def wait_all_posted(connection, accepted: list[str], *, seconds: float, counts=None) -> None:
    """Wait up to `seconds` for every accepted event to be posted; never raises: the
    drill's counts afterwards say what is missing. `counts` replaces ledger_counts (e.g. one
    that reconnects first)."""
    counts = counts or ledger_counts
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: counts(connection, accepted)["posted"] >= len(accepted),
            timeout=seconds,
            interval=1,
            message="not every accepted event was posted",
        )


def posting_counts(connection, jobs) -> dict[str, int]:
    """jobs, posted, documents and duplicates (see `ledger_counts`) of the sync jobs `jobs`
    (a queryset) on `connection`; lost: the jobs not posted."""
    from django.db.models import Count

    from erp_sync.choices import SyncJobState
    from erp_sync.models import SandboxDocument, SyncAttempt

    jobs = jobs.filter(connection=connection)
    total = jobs.count()
    posted = jobs.filter(state=SyncJobState.POSTED).count()
    ledger = SandboxDocument.objects.filter(connection=connection)
    documents = ledger.count()
    # With the ERP's external-id key intact a second document of one job can only show as a
    # document whose external id no job of the drill has (the key changed between tries).
    stray = ledger.exclude(external_id__in=jobs.values("external_id")).count()
    doubled = documents - ledger.values("external_id").distinct().count()
    twice_posted = (
        SyncAttempt.objects.filter(job__in=jobs, outcome="posted")
        .values("job")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return {
        "jobs": total,
        "posted": posted,
        "documents": documents,
        "duplicates": stray + doubled + twice_posted,
        "lost": total - posted,
    }


def summary(name: str, **counts) -> str:
    """The one line a drill prints: `DRILL <name>: key=value ...`."""
    line = f"DRILL {name}: " + " ".join(f"{key}={value}" for key, value in counts.items())
    print(line)
    SUMMARIES.append(line)
    return line
