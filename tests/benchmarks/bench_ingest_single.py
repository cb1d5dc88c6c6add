"""One-event ingest benchmark: events one per request to POST /api/v1/events, against a bare
Django view that validates nothing and does one INSERT.

`python -m tests.benchmarks.bench_ingest_single` (or `make bench BENCH=ingest_single`).
Billing platforms mostly send events one at a time from webhooks, so the one-event endpoint
matters as much as the batch. On a fresh PostgreSQL database, with the app under gunicorn
the way bench_ingest runs it (2 sync workers, eager Celery, no ERP connection):

1. Set-up, not timed: legal entities and an API client (ORM), 500 customers and 2,000
   subscriptions and a warm-up of 10,000 events of the measured mix, all through the batch
   endpoint (bench_ingest's generator and set-up); the baseline's table
   `bench_bare_event (LIKE billing_financeevent INCLUDING ALL)`; then 400 more events of the
   mix under other ids posted one per request to each endpoint (each gunicorn worker's
   first requests, caches and prepared statements warm), the bare table emptied, VACUUM
   ANALYZE and CHECKPOINT (the set-up's writes flushed before the clock: without it ours'
   first slice, timed first, ran 40% slower than the others).
2. The measured stream: N = 20,000 x BENCH_SCALE unique events of bench_ingest's mix (85%
   usage.recorded, 10% invoice.issued, 5% payment.settled), each serialised before the clock
   starts, posted one per request by 8 client threads (BENCH_CLIENTS) over http.client.
3. The baseline, same run, same server: the same bodies, one per request, to
   `POST /bench/bare-events` (tests/benchmarks/single_urls.py, served only under the
   benchmark's settings module): Django's request cycle and middleware, one JSON parse, one
   INSERT of the event row, a 202.
4. The stream is cut in 4 slices; each slice goes to both endpoints in turn (the order
   alternating), so that load from other work on the machine falls on both alike.
   requests/s = N / the summed wall time of that endpoint's slices; ratio = ours / bare.
5. Checks: every request of ours answered 202 (a new event), stored events == N, usage
   records == usage events sent; every bare request answered 202 and the bare table holds
   N rows. A failure prints why and exits non-zero.

Last line: BENCH ingest_single <req/s> req/s ratio=<ours/bare> target=0.5 p99_ms=<ours' p99>
BENCH_PYSPY=1 records a py-spy profile of each gunicorn worker while ours is timed.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.benchmarks.bench_ingest import (
    CUSTOMERS,
    SUBSCRIPTIONS,
    WARM_UP_EVENTS,
    WEB_WORKERS,
    Client,
    build_stream,
    percentile,
    post_setup,
    set_up,
    start_profilers,
    stop_profilers,
    warm_up_stream,
)
from tests.benchmarks.common import (
    BenchDatabase,
    CpuSampler,
    Gunicorn,
    bench_database,
    bench_line,
    cpu_report,
    say,
    scale,
)

NAME = "ingest_single"
TARGET_RATIO = 0.5
FULL_SIZE = 20_000
SLICES = 4
OURS_PATH = "/api/v1/events"
# The baseline's URL and table (served by single_urls.py under SETTINGS_MODULE).
BARE_PATH = "bench/bare-events"
BARE_URL = f"/{BARE_PATH}"
TABLE = "bench_bare_event"
SETTINGS_MODULE = "tests.benchmarks.single_settings"
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENTS", "8"))
WARM_ONE_BY_ONE = 400  # events posted one per request to each endpoint before the clock


@dataclass
class Side:
    """What one endpoint answered: wall time per slice, latencies, statuses."""

    path: str
    walls: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    bad: list[tuple[int, bytes]] = field(default_factory=list)
    cpu: list[dict] = field(default_factory=list)  # CpuSampler's figures, per slice

    def cpu_total(self) -> dict[str, float]:
        total = {key: sum(sample[key] for sample in self.cpu) for key in self.cpu[0]}
        total["cores"] = self.cpu[0]["cores"]
        return total

    @property
    def wall(self) -> float:
        return sum(self.walls)


def post_one_each(port: int, headers: dict, path: str, bodies: list[bytes], side: Side) -> None:
    """Post every body once, one per request, from CLIENT_THREADS threads; record into side."""
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def work() -> None:
        # gunicorn's sync workers close the connection after each answer; http.client
        # reopens it on the next request, so every request pays a connect, on both sides.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        latencies, statuses, bad = [], Counter(), []
        try:
            while True:
                with lock:
                    number = next(cursor, None)
                if number is None:
                    break
                started = time.perf_counter()
                try:
                    connection.request("POST", path, body=bodies[number], headers=headers)
                    response = connection.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    connection.close()
                    connection.request("POST", path, body=bodies[number], headers=headers)
                    response = connection.getresponse()
                payload = response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1
                if response.status != 202:
                    bad.append((response.status, payload[:500]))
        finally:
            connection.close()
            with lock:
                side.latencies += latencies
                side.statuses.update(statuses)
                side.bad += bad

    threads = [threading.Thread(target=work, name=f"client-{n}") for n in range(CLIENT_THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    side.walls.append(time.perf_counter() - started)


def one_by_one_warm_up(count: int) -> list[bytes]:
    """`count` events of the measured mix under their own ids (`bench-o-...`, `o`-prefixed
    records), for the one-request-at-a-time warm-up of both endpoints."""
    events = build_stream(count, random.Random(13)).events
    for event in events:
        event["id"] = event["id"].replace("bench-m-", "bench-o-")
        for key in ("usage_id", "invoice_id", "payment_id"):
            if key in event["data"]:
                event["data"][key] = f"o{event['data'][key]}"
    return [json.dumps(event, separators=(",", ":")).encode() for event in events]


def check(database: BenchDatabase, stream, ours: Side, bare: Side) -> list[str]:
    failures = []
    unique = len(stream.events)
    for side in (ours, bare):
        if side.statuses.get(202, 0) != unique:
            failures.append(f"{side.path}: {dict(side.statuses)} for {unique} new events")
            failures += [f"  {status}: {body!r}" for status, body in side.bad[:5]]
    with database.connect() as connection:
        stored = connection.execute(
            "SELECT count(*) FROM billing_financeevent WHERE event_id LIKE %s", ["bench-m-%"]
        ).fetchone()[0]
        states = dict(
            connection.execute(
                "SELECT state, count(*) FROM billing_financeevent WHERE event_id LIKE %s"
                " GROUP BY state",
                ["bench-m-%"],
            ).fetchall()
        )
        usage = connection.execute(
            "SELECT count(*) FROM billing_usagerecord WHERE usage_id LIKE %s", ["use-%"]
        ).fetchone()[0]
        bare_rows = connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    say(f"  stored events {stored} (sent {unique}), by state {states}; usage records {usage}")
    say(f"  bare table rows {bare_rows}")
    if stored != unique:
        failures.append(f"stored {stored} events, sent {unique}")
    if usage != stream.usage_count:
        failures.append(f"{usage} usage records for {stream.usage_count} usage events")
    if bare_rows != unique:
        failures.append(f"the bare table holds {bare_rows} rows, sent {unique}")
    if states.get("quarantined"):
        say(f"  WARNING: {states['quarantined']} events quarantined: the data should all apply")
    return failures


def run() -> int:
    size = scale()
    unique = max(200, round(FULL_SIZE * size))
    say(
        f"ingest_single: {unique} events one per request (BENCH_SCALE={size:g}), "
        f"{CLIENT_THREADS} client threads, {WEB_WORKERS} gunicorn workers"
    )
    stream = build_stream(unique, random.Random(7))
    bodies = [json.dumps(event, separators=(",", ":")).encode() for event in stream.events]
    say(f"  types: {dict(stream.type_counts)}")
    bounds = [round(unique * n / SLICES) for n in range(SLICES + 1)]
    slices = [bodies[bounds[n] : bounds[n + 1]] for n in range(SLICES)]

    with bench_database() as database:
        say(f"  database {database.name}: migrated")
        token = set_up(database)
        with database.connect(autocommit=True) as connection:
            connection.execute(f"CREATE TABLE {TABLE} (LIKE billing_financeevent INCLUDING ALL)")
        with Gunicorn(database.url, workers=WEB_WORKERS, settings_module=SETTINGS_MODULE) as server:
            client = Client(server.port, token)
            started = time.perf_counter()
            post_setup(client, stream.customers)
            post_setup(client, stream.subscriptions)
            post_setup(client, warm_up_stream(WARM_UP_EVENTS))
            say(
                f"  set-up through the batch API: {CUSTOMERS} customers, {SUBSCRIPTIONS} "
                f"subscriptions, {WARM_UP_EVENTS} warm-up events, in "
                f"{time.perf_counter() - started:.1f} s (not timed)"
            )
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            ours_headers = {**headers, "Authorization": f"Bearer {token}"}
            # Both endpoints warmed one request at a time too (each worker's first requests,
            # its caches, its prepared statements), then the bare table emptied.
            warm = one_by_one_warm_up(WARM_ONE_BY_ONE)
            for path, side_headers in ((OURS_PATH, ours_headers), (BARE_URL, headers)):
                post_one_each(server.port, side_headers, path, warm, Side(path))
            with database.connect(autocommit=True) as connection:
                connection.execute(f"TRUNCATE {TABLE}")
                connection.execute("VACUUM ANALYZE")
                # The set-up's writes reach the disk now, not during the first timed slice.
                connection.execute("CHECKPOINT")
            say(f"  load average before the timed run: {os.getloadavg()[0]:.2f}")

            ours, bare = Side(OURS_PATH), Side(BARE_URL)
            for number, part in enumerate(slices):
                order = [(ours, ours_headers), (bare, headers)]
                for side, side_headers in order if number % 2 == 0 else reversed(order):
                    sampler = CpuSampler(gunicorn_pid=server.pid, database_name=database.name)
                    profilers = start_profilers(server.worker_pids()) if side is ours else []
                    sampler.start()
                    post_one_each(server.port, side_headers, side.path, part, side)
                    side.cpu.append(sampler.stop())
                    stop_profilers(profilers)
        failures = check(database, stream, ours, bare)

    rates = {}
    for label, side in (("ours", ours), ("bare", bare)):
        rates[label] = unique / side.wall
        say(
            f"  {label:<4} {side.path:<20} {rates[label]:8,.0f} req/s over {side.wall:.2f} s "
            f"(slices {', '.join(f'{w:.2f}' for w in side.walls)} s); latency p50 "
            f"{1000 * percentile(side.latencies, 0.5):.1f} ms, "
            f"p99 {1000 * percentile(side.latencies, 0.99):.1f} ms"
        )
    ratio = rates["ours"] / rates["bare"]
    cpu = ours.cpu_total()
    say("  where the CPU went while ours was timed:")
    for line in cpu_report(cpu):
        say(line)
    # CPU per request is what a busy machine distorts least (wall time waits for the CPU).
    per_request = {}
    for label, side in (("ours", ours), ("bare", bare)):
        used = side.cpu_total()
        per_request[label] = 1000 * (used["web"] + used["db"]) / unique
        say(
            f"  CPU per request, {label}: {1000 * used['web'] / unique:.2f} ms web + "
            f"{1000 * used['db'] / unique:.2f} ms PostgreSQL = {per_request[label]:.2f} ms"
        )
    say(f"  CPU per request bare/ours = {per_request['bare'] / per_request['ours']:.3f}")
    if failures:
        say(f"  server log: {server.log_path}")
        if server.first_error():
            say(f"  first server error: {server.first_error()}")
        say("FAILED:")
        for failure in failures:
            say(f"  {failure}")
    else:
        server.discard_log()
    bench_line(
        NAME,
        round(rates["ours"]),
        "req/s",
        ratio,
        TARGET_RATIO,
        p99_ms=round(1000 * percentile(ours.latencies, 0.99)),
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
