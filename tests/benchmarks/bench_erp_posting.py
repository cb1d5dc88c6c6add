"""ERP posting benchmark: sync jobs posted to the sandbox ERP through real Celery workers.

`python -m tests.benchmarks.bench_erp_posting` (or `make bench BENCH=erp_posting`). Needs
PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/8, flushed at the start).

1. Set-up, not timed: a fresh database `concord_bench_<pid>` (migrated), entity US01, one
   sandbox connection with latency_ms=20 and max_concurrency C=8, the default chart and
   rules; N = 20,000 x BENCH_SCALE invoice.issued events with their invoices. The first
   event goes through the real dispatcher (build_document); the other N-1 jobs carry a copy
   of its document with their own external id (bulk insert: dispatch is not measured).
2. Workers: BENCH_WORKERS (default 2) `celery worker -Q erp --pool threads -c
   BENCH_THREADS` (default 8) processes: 16 threads in all. A task that gets one of the C
   slots posts a batch of ready jobs (the engine's default batch_size, 16) and goes on with
   the next while a slot is free, so C threads call the ERP while the others take the
   remaining messages (no-ops for jobs a batch took, or waits for a slot). More processes
   with fewer threads (4 x 4) was no faster and spent more CPU per job, so the defaults
   stay.
3. The workers stop consuming "erp" (cancel_consumer), one `erp_sync.post_job` message per
   job is published (not timed: it is dispatch's cost, and it would steal CPU from the
   workers), then the workers consume again (add_consumer). Timed: from that moment to the
   last job posted (max posted_at). postings/s = posted / that time. bound = C / latency =
   400/s; ratio = postings/s / bound.
4. Checks: duplicates = sandbox documents beyond one per external id, plus attempts that
   found their document already in the ERP (the sandbox's unique external id turns a second
   post into a "found existing" answer: with no faults injected, each one is a document the
   ERP received twice); lost = jobs not posted when progress stopped; max_in_flight = the
   semaphore's observed maximum (Redis). A duplicate or a lost job exits non-zero.
5. Overhead: mean ERP call (SyncAttempt.duration_ms: the sandbox answers `latency` after
   the call started, its own writes included, so more than 20 ms is time the worker took
   to get the CPU back), the slot time per posting spent outside ERP calls (C x elapsed -
   the calls, per posting: claiming, handing slots over), the mean time from a job's start
   (its "attempt started" history row) to posted (a batch's jobs start together and are
   recorded together), and CPU per job of the workers, of the bench database's PostgreSQL
   backends and of redis-server (shared: others' use counts too), with the load average
   (another process on the machine slows every call).
6. Real Tryton (when .venv-tryton and its template database are usable; BENCH_TRYTON=0
   skips it): 50 invoices posted through TrytonAdapter into a fresh trytond, one at a time
   (concurrent `account.invoice.post` calls answer 503 on Tryton's lock), retrying 503s as
   the engine would. Reported on its own line; not part of the BENCH line.

Last line: BENCH erp_posting <postings/s> postings/s ratio=<to bound> target=0.8
duplicates=<n> lost=<n> max_in_flight=<n>
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.common import (
    REPO_ROOT,
    VENV_BIN,
    bench_database,
    bench_line,
    children_of,
    django_env,
    say,
    scale,
)

LATENCY_MS = 20
CONCURRENCY = 8
TARGET = 0.8
BASE_JOBS = 20_000
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
POOL = os.environ.get("BENCH_POOL", "threads")
STALL_SECONDS = 60


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _tree(pid: int) -> list[int]:
    return [pid, *[child for child in children_of(pid)]]


def _pids_matching(text: str) -> list[int]:
    """Processes whose command line contains `text` (PostgreSQL backends show their database
    name; the Redis server its address)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if text.encode() in cmdline:
                pids.append(int(entry))
    return pids


def _service_cpu(database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the bench database's PostgreSQL backends and of redis-server."""
    return {
        "postgres": {pid: _cpu_seconds(pid) for pid in _pids_matching(f" {database} ")},
        "redis": {pid: _cpu_seconds(pid) for pid in _pids_matching("redis-server")},
    }


def _service_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU used between two `_service_cpu` readings."""
    return {
        kind: sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())
        for kind in after
    }


def _service_seen(seen: dict, now: dict) -> dict:
    """`seen` with the latest reading of every process in `now`: sampled every second, so a
    backend that exits during the run (connections are recycled after CONN_MAX_AGE, 60 s)
    keeps the CPU it had used at the last sample."""
    for kind, readings in now.items():
        seen.setdefault(kind, {}).update(readings)
    return seen


def _setup(total: int):
    """Create the world and the jobs (not timed); returns (connection, job ids)."""
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from billing.models import Customer, FinanceEvent, Invoice, LegalEntity
    from erp_sync import semaphore
    from erp_sync.models import Connection, SyncJob
    from erp_sync.services import dispatch as dispatch_module
    from tests.erp_sync.factories import (
        DEFAULT_CHART,
        default_rules,
        make_invoice,
        sandbox_accounts,
    )

    entity = LegalEntity.objects.create(code="US01", name="US01", currency="USD", country="US")
    connection = Connection.objects.create(
        name="bench-sandbox",
        entity=entity,
        adapter_kind="sandbox",
        max_concurrency=CONCURRENCY,
        failure_threshold=1000,
        settings={"latency_ms": LATENCY_MS},
    )
    sandbox_accounts(connection, DEFAULT_CHART)
    default_rules("US01")
    semaphore.reset(connection)

    queued: list[int] = []
    original = dispatch_module.enqueue_post
    dispatch_module.enqueue_post = lambda ids, **kwargs: queued.extend(ids)
    try:
        first_invoice = make_invoice(entity=entity)
        [first] = dispatch_module.sync_jobs_create_for_event(event=first_invoice.event, actor=None)
    finally:
        dispatch_module.enqueue_post = original
    template = first.document
    customer = Customer.objects.get(pk=first_invoice.customer_id)

    now = timezone.now()
    batch = 2000
    for start in range(1, total, batch):
        size = min(batch, total - start)
        with transaction.atomic():
            events = FinanceEvent.objects.bulk_create(
                FinanceEvent(
                    source="bench",
                    event_id=f"evt_{start + i}",
                    type="invoice.issued",
                    event_time=now,
                    entity="US01",
                    body={"data": {"invoice_id": f"inv_b{start + i}"}},
                    body_digest=f"{start + i:064d}",
                    state="applied",
                    applied_at=now,
                    dispatched_at=now,
                )
                for i in range(size)
            )
            Invoice.objects.bulk_create(
                Invoice(
                    invoice_id=f"inv_b{event.event_id}",
                    entity=entity,
                    customer=customer,
                    issue_date=dt.date(2026, 5, 14),
                    due_date=dt.date(2026, 6, 13),
                    currency="USD",
                    subtotal_amount=Decimal("100.00"),
                    tax_amount=Decimal("8.00"),
                    total_amount=Decimal("108.00"),
                    event=event,
                )
                for event in events
            )
            SyncJob.objects.bulk_create(
                SyncJob(
                    event=event,
                    connection=connection,
                    document_type="invoice",
                    external_id=f"concord:inv:bench-{event.event_id}",
                    document={
                        **template,
                        "external_id": f"concord:inv:bench-{event.event_id}",
                        "reference": event.event_id,
                    },
                )
                for event in events
            )
    ids = list(SyncJob.objects.order_by("id").values_list("pk", flat=True))
    return connection, ids


def _start_workers(env: dict[str, str]) -> list[subprocess.Popen]:
    workers = []
    for index in range(WORKERS):
        log = open(Path(f"/tmp/bench-erp-worker-{os.getpid()}-{index}.log"), "wb")  # noqa: SIM115
        workers.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "erp",
                    "--pool",
                    POOL,
                    "-c",
                    str(THREADS),
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench{index}-{os.getpid()}@%h",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return workers


def _wait_ready(seconds: float = 20) -> None:
    from config.celery import app

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= WORKERS:
            return
    raise SystemExit("the Celery workers did not come up")


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    import signal

    for proc in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _measure(connection, ids: list[int], workers: list[subprocess.Popen]) -> dict:

    from django.db.models import Avg, Count, F, Max, Sum
    from django.utils import timezone

    from config.celery import app
    from erp_sync import semaphore
    from erp_sync.choices import AttemptOutcome
    from erp_sync.models import SandboxDocument, SyncAttempt, SyncJob
    from erp_sync.tasks import post_job

    # Publishing N messages from this process costs ~1-4 ms each on a loaded 2-core machine:
    # timed, it capped the rate below the target and stole CPU from the workers. Dispatch
    # is not what is measured, so the workers stop consuming "erp" while the messages are
    # published, and the clock (and the CPU count) starts when they consume again.
    replies = app.control.cancel_consumer("erp", reply=True, timeout=5.0) or []
    if len(replies) < len(workers):
        raise SystemExit(f"cancel_consumer answered by {len(replies)}/{len(workers)} workers")
    clock = time.monotonic()
    with app.producer_or_acquire() as producer:
        for pk in ids:
            post_job.apply_async(kwargs={"job_id": pk}, queue="erp", producer=producer)
    say(f"  published {len(ids)} messages in {time.monotonic() - clock:.1f} s (not timed)")

    from django.db import connection as db_connection

    database = db_connection.settings_dict["NAME"]
    pids = [pid for proc in workers for pid in _tree(proc.pid)]
    cpu_before = sum(_cpu_seconds(pid) for pid in pids)
    services_before = _service_cpu(database)
    started_at = timezone.now()
    clock = time.monotonic()
    replies = app.control.add_consumer("erp", reply=True, timeout=5.0) or []
    if len(replies) < len(workers):
        raise SystemExit(f"add_consumer answered by {len(replies)}/{len(workers)} workers")

    total = len(ids)
    posted = 0
    last_progress = time.monotonic()
    seen = _service_seen({}, services_before)
    while True:
        time.sleep(1.0)
        seen = _service_seen(seen, _service_cpu(database))
        now_posted = SyncJob.objects.filter(state="posted").count()
        if now_posted != posted:
            posted, last_progress = now_posted, time.monotonic()
            say(f"  {posted}/{total} posted after {time.monotonic() - clock:.0f} s")
        if posted >= total or time.monotonic() - last_progress > STALL_SECONDS:
            break
    pids = [pid for proc in workers for pid in _tree(proc.pid)]
    cpu_used = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
    services = _service_delta(services_before, _service_seen(seen, _service_cpu(database)))

    last_posted = SyncJob.objects.aggregate(last=Max("posted_at"))["last"]
    elapsed = (last_posted - started_at).total_seconds() if last_posted else float("inf")
    extra_docs = (
        SandboxDocument.objects.filter(connection=connection)
        .values("external_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .aggregate(extra=Sum(F("n") - 1))["extra"]
        or 0
    )
    found_existing = SyncAttempt.objects.filter(outcome=AttemptOutcome.FOUND_EXISTING).count()
    calls = SyncAttempt.objects.aggregate(mean=Avg("duration_ms"), total=Sum("duration_ms"))
    attempts = SyncAttempt.objects.count()
    history = SyncJob.history.model.objects.filter(
        history_change_reason__startswith="attempt", history_change_reason__endswith="started"
    )
    started = dict(history.values_list("id").annotate(first=Max("history_date")))
    spans = [
        (job_posted - started[pk]).total_seconds() * 1000
        for pk, job_posted in SyncJob.objects.filter(state="posted").values_list("pk", "posted_at")
        if pk in started
    ]
    mean_span = sum(spans) / len(spans) if spans else 0.0
    return {
        "posted": posted,
        "lost": total - posted,
        "elapsed": elapsed,
        "rate": posted / elapsed if elapsed and elapsed != float("inf") else 0.0,
        "duplicates": int(extra_docs) + found_existing,
        "max_in_flight": semaphore.max_in_flight(connection),
        "mean_call_ms": float(calls["mean"] or 0),
        "attempts": attempts,
        "slot_share": (calls["total"] or 0) / 1000 / (elapsed * CONCURRENCY) if elapsed else 0,
        "slot_overhead_ms": (elapsed * CONCURRENCY * 1000 - (calls["total"] or 0)) / max(posted, 1),
        "mean_span_ms": mean_span,
        "cpu_per_job_ms": 1000 * cpu_used / max(posted, 1),
        "pg_cpu_per_job_ms": 1000 * services["postgres"] / max(posted, 1),
        "redis_cpu_per_job_ms": 1000 * services["redis"] / max(posted, 1),
        "cpu_cores": cpu_used / elapsed if elapsed else 0,
    }


def _tryton_rate(count: int = 50, threads: int = 1) -> str:
    """Postings/s of `count` invoices into a real trytond (adapter calls from `threads`
    threads, as `threads` job workers would make them); a reason when Tryton is unusable."""
    if os.environ.get("BENCH_TRYTON", "1") == "0":
        return "skipped (BENCH_TRYTON=0)"
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from erp_sync.adapters.base import RetryableError
    from erp_sync.tryton_setup.template import (
        database_create_from_template,
        database_drop,
        template_ensure,
        tryton_unavailable_reason,
    )

    reason = tryton_unavailable_reason()
    if reason:
        return f"skipped ({reason})"
    from tests.erp_sync.tryton.conftest import _start_trytond

    template_ensure(log=lambda message: None)
    name = f"concord_tryton_bench_{os.getpid()}"
    database_create_from_template(name)
    server = None
    try:
        server = _start_trytond(name, Path(tempfile.mkdtemp(prefix="bench-trytond-")))
        documents = [_tryton_invoice(index) for index in range(count)]
        server.adapter().post(_tryton_invoice(-1))  # warm-up: parties, caches
        retries = []

        def post(document):
            # As the engine does: a retryable answer (Tryton's 503 on a lock) is tried again.
            for attempt in range(8):
                try:
                    return server.adapter().post(document)
                except RetryableError:
                    retries.append(1)
                    time.sleep(0.05 * 2**attempt)
            raise RuntimeError(f"{document.external_id}: still failing after 8 tries")

        clock = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(post, documents))
        elapsed = time.monotonic() - clock
        created = sum(1 for result in results if result.created)
        return (
            f"{created / elapsed:.1f} postings/s ({created} invoices, {threads} threads, "
            f"{len(retries)} retried 503s)"
        )
    except Exception as error:  # a broken harness must not hide the sandbox result
        return f"failed ({type(error).__name__}: {str(error)[:200]})"
    finally:
        if server is not None:
            server.stop()
        database_drop(name)


def _tryton_invoice(index: int):
    import datetime as dt
    from decimal import Decimal

    from erp_sync.adapters.base import DocumentLine, ErpDocument, Party

    token = f"{os.getpid()}-{index}"
    return ErpDocument(
        external_id=f"concord:inv:bench-{token}",
        kind="invoice",
        entity="US01",
        currency="USD",
        document_date=dt.date(2026, 3, 15),
        party=Party(code="CUST-BENCH", name="Bench customer", country="US"),
        total=Decimal("110.00"),
        tax_total=Decimal("10.00"),
        receivable_account="1.2.1",
        reference=f"INV-{token}",
        lines=(
            DocumentLine(
                description="Platform subscription",
                account="4.2.2",
                quantity=Decimal(1),
                unit_price=Decimal("100.00"),
                amount=Decimal("100.00"),
                tax_code="US-SALES-10",
                tax_amount=Decimal("10.00"),
            ),
        ),
    )


def main() -> int:
    total = max(int(BASE_JOBS * scale()), 10)
    say(
        f"erp_posting: {total} jobs, sandbox latency {LATENCY_MS} ms, max_concurrency "
        f"{CONCURRENCY}, {WORKERS} worker processes x {THREADS} threads"
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with bench_database() as database:
        env = django_env(database.url, REDIS_URL=REDIS_URL)
        os.environ.update(env)
        import django

        django.setup()
        clock = time.monotonic()
        connection, ids = _setup(total)
        say(f"  set-up: {len(ids)} jobs in {time.monotonic() - clock:.1f} s (not timed)")
        workers = _start_workers(env)
        try:
            _wait_ready()
            result = _measure(connection, ids, workers)
        finally:
            _stop_workers(workers)
            from django.db import connections

            connections.close_all()

    bound = CONCURRENCY / (LATENCY_MS / 1000)
    say(
        f"  elapsed {result['elapsed']:.1f} s for {result['posted']} postings "
        f"({result['attempts']} attempts); bound C/latency = {bound:.0f}/s"
    )
    say(
        f"  mean ERP call {result['mean_call_ms']:.1f} ms (the sandbox answers {LATENCY_MS} ms "
        "after the call started, its writes included); slot time outside ERP calls "
        f"{result['slot_overhead_ms']:.1f} ms per posting; job start→posted "
        f"{result['mean_span_ms']:.0f} ms (a batch's jobs start and are recorded together)"
    )
    say(
        f"  slot time inside ERP calls {100 * result['slot_share']:.0f}%; worker CPU "
        f"{result['cpu_per_job_ms']:.1f} ms per job ({result['cpu_cores']:.2f} cores)"
    )
    say(
        f"  PostgreSQL CPU {result['pg_cpu_per_job_ms']:.1f} ms per job (the bench database's "
        f"backends); redis-server CPU {result['redis_cpu_per_job_ms']:.1f} ms per job (the "
        "whole server: other users of it count too)"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    say(f"  load average after the run (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    say(f"  real Tryton: {_tryton_rate()}")
    rate = round(result["rate"], 1)
    bench_line(
        "erp_posting",
        rate,
        "postings/s",
        ratio=rate / bound,
        target=TARGET,
        duplicates=result["duplicates"],
        lost=result["lost"],
        max_in_flight=result["max_in_flight"],
    )
    return 1 if result["duplicates"] or result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
