"""Ingest benchmark: canonical events through POST /api/v1/events/batch, against COPY.

`python -m tests.benchmarks.bench_ingest` (or `make bench BENCH=ingest`). On a fresh
PostgreSQL database, with the app under gunicorn (2 sync workers, eager Celery, no ERP
connection so nothing is posted):

1. Set-up, not timed: legal entities US01/DE01/UK01 and an API client (ORM, in a subprocess),
   then ~500 customer.upserted and ~2,000 subscription.created events through the API, and a
   warm-up of 10,000 events of the measured mix under their own ids (a running ledger is
   not empty; see warm_up_stream), then VACUUM ANALYZE.
2. The measured stream: N = 200,000 x BENCH_SCALE unique events (85% usage.recorded, 10%
   invoice.issued with 2-5 lines whose totals add up, 5% payment.settled), plus 5% of them
   sent again with the same body (a fifth in the same batch, the rest in a later one),
   shuffled with random.Random(7), in batches of at most 1000, every body serialised before
   the clock starts, posted over keep-alive HTTP by BENCH_CLIENTS (default 4) threads.
   events/s = N unique events / wall time from the first request to the last response.
3. Checks: every first-seen event answered 202 and every duplicate 200 (exactly one 202 per
   (source, id)); stored events == N; no (source, event_id) stored twice; usage records ==
   unique usage events. A 4xx/5xx answer or a failed check exits non-zero.
4. Baseline, same run: COPY of the same logical rows (event rows with body, digest and
   result as the app stores them, plus the usage rows) into equivalent tables: `LIKE ...
   INCLUDING ALL` copies of billing_financeevent and billing_usagerecord (same columns,
   defaults, CHECK constraints and indexes; LIKE copies no foreign keys), three times into
   fresh tables, the fastest run counted. ratio = ingest rate / that COPY rate. Also
   printed, as `ratio_bare=`: the ratio to COPY into bare copies (`INCLUDING DEFAULTS`: no
   index, no constraint), the cost of the bytes alone.
5. What limits it: CPU seconds of the gunicorn workers, this database's PostgreSQL backends,
   other postgres processes, the client and the rest of the machine during the timed window.

Last line: BENCH ingest <events/s> events/s ratio=<to COPY> target=0.15 stored_twice=<n>
BENCH_PYSPY=1 also records a py-spy profile (raw collapsed stacks) of each gunicorn worker
during the timed window, when py-spy is installed in the virtualenv.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from tests.benchmarks.common import (
    VENV_BIN,
    BenchDatabase,
    CpuSampler,
    Gunicorn,
    bench_database,
    bench_line,
    cpu_report,
    django_shell,
    say,
    scale,
)

NAME = "ingest"
TARGET_RATIO = 0.15
TARGET_EVENTS_PER_SECOND = 5000
BATCH_MAX = 1000
# Unique events per batch before the duplicates are added, so that batches stay <= 1000.
UNIQUE_PER_BATCH = 940
DUPLICATE_SHARE = 0.05
SAME_BATCH_DUPLICATE_SHARE = 0.2
LATER_BATCHES = 10
COPY_REPEATS = 3  # the baseline is the fastest of these (noise only ever slows a run)
WARM_UP_EVENTS = 10_000  # posted during set-up, whatever BENCH_SCALE (see warm_up_stream)
FULL_SIZE = 200_000
CUSTOMERS = 500
SUBSCRIPTIONS = 2000
SOURCE = "billing-platform"
CLIENT_NAME = "bench-ingest"
PATH = "/api/v1/events/batch"
# gunicorn sync workers, one per core (the work is CPU-bound: more workers only queue).
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))

ENTITIES = {  # code: (currency, country, tax rate, tax code)
    "US01": ("USD", "US", Decimal("0.0825"), "US-SALES"),
    "DE01": ("EUR", "DE", Decimal("0.19"), "DE-VAT19"),
    "UK01": ("GBP", "GB", Decimal("0.20"), "UK-VAT20"),
}
PLANS = [("pro-monthly", "platform"), ("analytics-addon", "analytics"), ("storage-plus", "storage")]
METERS = ["api_calls", "storage_gb", "seats", "compute_hours"]
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# The events


@dataclass
class Stream:
    customers: list[dict]
    subscriptions: list[dict]
    events: list[dict]  # the N unique measured events, in stream order
    batches: list[list[int]]  # indexes into `events`; a repeated index is a duplicate
    usage_count: int = 0
    type_counts: Counter = field(default_factory=Counter)


def envelope(event_id: str, event_type: str, entity: str, second: int, data: dict) -> dict:
    day, rest = divmod(second % (28 * 86400), 86400)
    hour, rest = divmod(rest, 3600)
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event_type,
        "time": f"2026-05-{day + 1:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z",
        "entity": entity,
        "correlationid": f"bench-{event_id}",
        "data": data,
    }


def build_stream(unique: int, rng: random.Random) -> Stream:
    """Every event of the run, deterministic for a given size and generator."""
    entity_codes = sorted(ENTITIES)
    customers = []
    for number in range(CUSTOMERS):
        entity = entity_codes[number % len(entity_codes)]
        currency, country, _, _ = ENTITIES[entity]
        customers.append(
            envelope(
                f"bench-c-{number:05d}",
                "customer.upserted",
                entity,
                number,
                {
                    "customer_id": f"cus-{number:05d}",
                    "name": f"Bench Customer {number}",
                    "country": country,
                    "currency": currency,
                },
            )
        )
    subscriptions = []
    for number in range(SUBSCRIPTIONS):
        customer = customers[rng.randrange(CUSTOMERS)]
        plan_code, family = rng.choice(PLANS)
        subscriptions.append(
            envelope(
                f"bench-s-{number:05d}",
                "subscription.created",
                customer["entity"],
                number,
                {
                    "subscription_id": f"sub-{number:05d}",
                    "customer_id": customer["data"]["customer_id"],
                    "plan_code": plan_code,
                    "product_family": family,
                    "quantity": str(rng.randint(1, 50)),
                    "unit_price": f"{rng.randint(900, 49900) / 100:.2f}",
                    "currency": customer["data"]["currency"],
                    "interval": "month",
                    "start_date": "2026-01-01",
                },
            )
        )

    invoices = round(unique * 0.10)
    payments = round(unique * 0.05)
    kinds = ["usage"] * (unique - invoices - payments) + ["invoice"] * invoices
    kinds += ["payment"] * payments
    rng.shuffle(kinds)

    # A payment names an invoice only when that invoice was sent well before it (more batches
    # back than can be in flight at once), so it is always there to be paid.
    safe_distance = BATCH_MAX * 8
    payable: list[tuple[int, dict]] = []  # (position, invoice event), oldest first
    next_payable = 0
    events = []
    for position, kind in enumerate(kinds):
        event_id = f"bench-m-{position:07d}"
        if kind == "usage":
            subscription = subscriptions[rng.randrange(SUBSCRIPTIONS)]
            data = {
                "usage_id": f"use-{position:07d}",
                "subscription_id": subscription["data"]["subscription_id"],
                "meter": rng.choice(METERS),
                "quantity": f"{rng.randint(1, 500_000) / 100:.2f}",
                "unit_price": "0.0125",
                "period_start": "2026-05-01",
                "period_end": "2026-05-31",
            }
            events.append(
                envelope(event_id, "usage.recorded", subscription["entity"], position, data)
            )
        elif kind == "invoice":
            subscription = subscriptions[rng.randrange(SUBSCRIPTIONS)]
            entity = subscription["entity"]
            _, _, tax_rate, tax_code = ENTITIES[entity]
            lines = []
            for line_number in range(1, rng.randint(2, 5) + 1):
                quantity = Decimal(rng.randint(1, 400)) / 4  # 0.25 steps
                unit_price = Decimal(rng.randint(1, 2_000_000)) / 10_000  # four decimals
                amount = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
                lines.append(
                    {
                        "line_id": f"L{line_number}",
                        "description": f"{subscription['data']['plan_code']} line {line_number}",
                        "product_family": subscription["data"]["product_family"],
                        "quantity": str(quantity),
                        "unit_price": str(unit_price),
                        "amount": money(amount),
                        "tax_code": tax_code,
                        "tax_amount": money(amount * tax_rate),
                    }
                )
            subtotal = sum(Decimal(line["amount"]) for line in lines)
            tax_total = sum(Decimal(line["tax_amount"]) for line in lines)
            data = {
                "invoice_id": f"inv-{position:07d}",
                "customer_id": subscription["data"]["customer_id"],
                "subscription_id": subscription["data"]["subscription_id"],
                "issue_date": "2026-05-14",
                "due_date": "2026-06-13",
                "currency": subscription["data"]["currency"],
                "lines": lines,
                "subtotal": money(subtotal),
                "tax_total": money(tax_total),
                "total": money(subtotal + tax_total),
            }
            event = envelope(event_id, "invoice.issued", entity, position, data)
            events.append(event)
            payable.append((position, event))
        else:
            data = {
                "payment_id": f"pay-{position:07d}",
                "method": rng.choice(["wire", "card", "sepa_debit"]),
                "received_at": "2026-05-20T12:00:00Z",
            }
            if next_payable < len(payable) and payable[next_payable][0] <= position - safe_distance:
                invoice = payable[next_payable][1]
                next_payable += 1
                data["customer_id"] = invoice["data"]["customer_id"]
                data["invoice_id"] = invoice["data"]["invoice_id"]
                data["amount"] = invoice["data"]["total"]
                data["currency"] = invoice["data"]["currency"]
                entity = invoice["entity"]
            else:  # early in the stream: money on account, not yet allocated
                customer = customers[rng.randrange(CUSTOMERS)]
                data["customer_id"] = customer["data"]["customer_id"]
                data["amount"] = f"{rng.randint(1000, 500_000) / 100:.2f}"
                data["currency"] = customer["data"]["currency"]
                entity = customer["entity"]
            events.append(envelope(event_id, "payment.settled", entity, position, dict(data)))

    batches = [
        list(range(start, min(start + UNIQUE_PER_BATCH, unique)))
        for start in range(0, unique, UNIQUE_PER_BATCH)
    ]
    batch_of = {index: number for number, batch in enumerate(batches) for index in batch}
    for original in sorted(rng.sample(range(unique), round(unique * DUPLICATE_SHARE))):
        home = batch_of[original]
        # A later copy lands in one of the next few batches (a client retrying), so every
        # batch gets about as many copies and none outgrows BATCH_MAX.
        later = list(range(home + 1, min(home + 1 + LATER_BATCHES, len(batches))))
        choices = [home] if rng.random() < SAME_BATCH_DUPLICATE_SHARE or not later else later
        rng.shuffle(choices)
        fallback = [home, *range(home + 1, len(batches))]
        target = next((b for b in choices + fallback if len(batches[b]) < BATCH_MAX), None)
        if target is None:
            batches.append([])
            target = len(batches) - 1
        batch = batches[target]
        # In its own batch, a duplicate comes after the original.
        low = batch.index(original) + 1 if target == home else 0
        batch.insert(rng.randint(low, len(batch)), original)

    stream = Stream(
        customers=customers, subscriptions=subscriptions, events=events, batches=batches
    )
    stream.type_counts = Counter(event["type"] for event in events)
    stream.usage_count = stream.type_counts["usage.recorded"]
    return stream


def warm_up_stream(unique: int) -> list[dict]:
    """Events of the measured mix under their own ids (`bench-w-...`, `w`-prefixed records).

    Posted during set-up so that the timed run starts on a ledger that already holds
    invoices, payments and usage, analysed, as a running system's does: on empty tables
    PostgreSQL plans the foreign-key checks of invoice lines and allocations as sequential
    scans and keeps those plans for the life of the connection.
    """
    events = build_stream(unique, random.Random(11)).events
    for event in events:
        event["id"] = event["id"].replace("bench-m-", "bench-w-")
        event["correlationid"] = f"bench-{event['id']}"
        data = event["data"]
        for key in ("usage_id", "invoice_id", "payment_id"):
            if key in data:
                data[key] = f"w{data[key]}"
    return events


def serialise(events: list[dict]) -> bytes:
    return json.dumps({"events": events}, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# The client


@dataclass
class Answer:
    batch: int
    started: float
    finished: float
    status: int
    body: bytes


class Client:
    """Posts pre-serialised batch bodies over one keep-alive connection per thread."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def post(self, connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
        try:
            connection.request("POST", PATH, body=body, headers=self.headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: one fresh try.
            connection.close()
            connection.request("POST", PATH, body=body, headers=self.headers)
            response = connection.getresponse()
            return response.status, response.read()

    def post_all(self, bodies: list[bytes], threads: int) -> list[Answer]:
        answers: list[Answer] = []
        lock = threading.Lock()
        cursor = iter(range(len(bodies)))

        def work() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                while True:
                    with lock:
                        number = next(cursor, None)
                    if number is None:
                        return
                    started = time.perf_counter()
                    status, body = self.post(connection, bodies[number])
                    answer = Answer(number, started, time.perf_counter(), status, body)
                    with lock:
                        answers.append(answer)
            finally:
                connection.close()

        workers = [threading.Thread(target=work, name=f"client-{n}") for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sorted(answers, key=lambda answer: answer.batch)


def post_setup(client: Client, events: list[dict]) -> None:
    """Post set-up events in order, one batch at a time; every one must be accepted."""
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=600)
    try:
        for start in range(0, len(events), BATCH_MAX):
            status, body = client.post(connection, serialise(events[start : start + BATCH_MAX]))
            if status != 200:
                raise RuntimeError(f"set-up batch answered {status}: {body[:2000]!r}")
            refused = [r for r in json.loads(body)["results"] if r.get("status") != 202]
            if refused:
                raise RuntimeError(f"set-up events refused: {refused[:3]}")
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    status_mismatches: int = 0
    late_first_seen: int = 0  # the 202 went to a later copy: concurrent batches raced
    stored_twice: int = 0
    results: dict[int, dict] = field(default_factory=dict)  # event index -> its 202 result


def check_answers(stream: Stream, answers: list[Answer]) -> Outcome:
    """Exactly one 202 per unique event, 200 for every other copy; no 4xx/5xx anywhere."""
    outcome = Outcome()
    statuses: dict[int, list[int]] = {}
    bad_items = []
    for answer in answers:
        if answer.status != 200:
            outcome.failures.append(
                f"batch {answer.batch} answered HTTP {answer.status}: {answer.body[:500]!r}"
            )
            continue
        results = json.loads(answer.body)["results"]
        batch = stream.batches[answer.batch]
        if len(results) != len(batch):
            outcome.failures.append(
                f"batch {answer.batch}: {len(results)} results for {len(batch)} events"
            )
        for position, result in enumerate(results):
            index = batch[result.get("index", position)]
            status = result.get("status")
            statuses.setdefault(index, []).append(status)
            if status == 202:
                outcome.results[index] = result
            elif status != 200:
                bad_items.append((answer.batch, position, result))
    if bad_items:
        outcome.failures.append(f"{len(bad_items)} events refused (4xx/5xx), e.g.:")
        outcome.failures += [f"  batch {b} index {i}: {r}" for b, i, r in bad_items[:5]]
    for index, seen in statuses.items():
        if seen.count(202) != 1 or any(s not in (200, 202) for s in seen):
            outcome.status_mismatches += 1
        elif seen[0] != 202:
            outcome.late_first_seen += 1
    missing = len(stream.events) - len(statuses)
    if missing:
        outcome.failures.append(f"{missing} events got no answer at all")
    if outcome.status_mismatches:
        outcome.failures.append(
            f"{outcome.status_mismatches} events did not get exactly one 202 (rest 200)"
        )
    return outcome


def check_database(database: BenchDatabase, stream: Stream, outcome: Outcome) -> None:
    with database.connect() as connection:
        stored = connection.execute(
            "SELECT count(*) FROM billing_financeevent WHERE source = %s AND event_id LIKE %s",
            [SOURCE, "bench-m-%"],
        ).fetchone()[0]
        outcome.stored_twice = connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM billing_financeevent"
            " GROUP BY source, event_id HAVING count(*) > 1) AS twice"
        ).fetchone()[0]
        usage = connection.execute(
            "SELECT count(*) FROM billing_usagerecord WHERE usage_id LIKE %s", ["use-%"]
        ).fetchone()[0]
        states = connection.execute(
            "SELECT state, count(*) FROM billing_financeevent WHERE event_id LIKE %s"
            " GROUP BY state ORDER BY state",
            ["bench-m-%"],
        ).fetchall()
    say(f"  stored events {stored} (unique sent {len(stream.events)}); by state: {dict(states)}")
    say(f"  (source, event_id) stored twice: {outcome.stored_twice}")
    say(f"  usage records {usage} (unique usage events sent {stream.usage_count})")
    if stored != len(stream.events):
        outcome.failures.append(f"stored {stored} events, sent {len(stream.events)} unique")
    if outcome.stored_twice:
        outcome.failures.append(f"{outcome.stored_twice} (source, event_id) stored twice")
    if usage != stream.usage_count:
        outcome.failures.append(f"{usage} usage records for {stream.usage_count} usage events")
    quarantined = dict(states).get("quarantined", 0)
    if quarantined:
        say(f"  WARNING: {quarantined} events quarantined: the generated data should all apply")


# ---------------------------------------------------------------------------------------------
# The COPY baseline


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _copy_chunks(rows: list[list[object]], chunk_rows: int = 2000) -> list[bytes]:
    chunks = []
    for start in range(0, len(rows), chunk_rows):
        text = "".join(
            "\t".join(_copy_text(v) for v in row) + "\n" for row in rows[start : start + chunk_rows]
        )
        chunks.append(text.encode())
    return chunks


def _columns(connection, table: str) -> list[tuple[str, bool, bool]]:
    """(name, nullable, has default) of every column of `table`, in order."""
    return [
        (name, nullable == "YES", default is not None)
        for name, nullable, default in connection.execute(
            "SELECT column_name, is_nullable, column_default FROM information_schema.columns"
            " WHERE table_name = %s AND table_schema = current_schema()"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def _rows_for(columns, values: list[dict], table: str) -> tuple[list[str], list[list[object]]]:
    """Pick the columns we know a value for; a NOT NULL column without one is an error."""
    known = set(values[0]) if values else set()
    names = []
    for name, nullable, has_default in columns:
        if name in known:
            names.append(name)
        elif not nullable and not has_default:
            raise RuntimeError(f"the COPY baseline has no value for {table}.{name}; add it")
    return names, [[row[name] for name in names] for row in values]


def copy_baseline(
    database: BenchDatabase, stream: Stream, outcome: Outcome, *, including: str
) -> tuple[list[float], int]:
    """COPY the run's event and usage rows into look-alike tables; (seconds of each of
    COPY_REPEATS runs, event rows).

    `including` is LIKE's option: "ALL" (the equivalent table, with its indexes and CHECK
    constraints) or "DEFAULTS" (bare). Each run copies into freshly created tables.
    """
    from billing.schema import canonical_digest

    with database.connect() as connection:
        connection.execute(
            f"CREATE TABLE bench_copy_event (LIKE billing_financeevent INCLUDING {including})"
        )
        connection.execute(
            f"CREATE TABLE bench_copy_usage (LIKE billing_usagerecord INCLUDING {including})"
        )
        subscription_pk = dict(
            connection.execute("SELECT subscription_id, id FROM billing_subscription").fetchall()
        )
        received_by = connection.execute(
            "SELECT user_id FROM accounts_apiclient WHERE name = %s", [CLIENT_NAME]
        ).fetchone()
        received_by = received_by[0] if received_by else None
        now = connection.execute("SELECT now()").fetchone()[0].isoformat()
        currency_of = {
            s["data"]["subscription_id"]: s["data"]["currency"] for s in stream.subscriptions
        }

        event_rows, usage_rows = [], []
        for index, event in enumerate(stream.events):
            pk = index + 1
            result = dict(outcome.results.get(index, {"status": 202}))
            result.pop("index", None)
            event_rows.append(
                {
                    "id": pk,
                    "source": event["source"],
                    "event_id": event["id"],
                    "type": event["type"],
                    "specversion": event["specversion"],
                    "event_time": event["time"],
                    "entity": event["entity"],
                    "correlation_id": event["correlationid"],
                    "body": json.dumps(event),
                    "body_digest": canonical_digest(event),
                    "state": "applied",
                    "quarantine_reason": "",
                    "quarantine_detail": "",
                    "apply_attempts": 1,
                    "result": json.dumps(result),
                    "correction": "{}",  # an ingested event is no corrected copy
                    "received_at": now,
                    "applied_at": now,
                    "dispatched_at": None,
                    "received_by_id": received_by,
                }
            )
            if event["type"] == "usage.recorded":
                data = event["data"]
                amount = (Decimal(data["quantity"]) * Decimal(data["unit_price"])).quantize(
                    CENT, rounding=ROUND_HALF_UP
                )
                usage_rows.append(
                    {
                        "id": len(usage_rows) + 1,
                        "usage_id": data["usage_id"],
                        "subscription_id": subscription_pk[data["subscription_id"]],
                        "meter": data["meter"],
                        "quantity": data["quantity"],
                        "unit_price": data["unit_price"],
                        "amount": str(amount),
                        "currency": currency_of[data["subscription_id"]],
                        "period_start": data["period_start"],
                        "period_end": data["period_end"],
                        "event_id": pk,
                    }
                )
        event_names, event_values = _rows_for(
            _columns(connection, "bench_copy_event"), event_rows, "billing_financeevent"
        )
        usage_names, usage_values = _rows_for(
            _columns(connection, "bench_copy_usage"), usage_rows, "billing_usagerecord"
        )
        event_chunks = _copy_chunks(event_values)
        usage_chunks = _copy_chunks(usage_values)
        connection.execute("DROP TABLE bench_copy_event, bench_copy_usage")
        connection.commit()

        timings, copied = [], 0
        for _ in range(COPY_REPEATS):
            connection.execute(
                f"CREATE TABLE bench_copy_event (LIKE billing_financeevent INCLUDING {including})"
            )
            connection.execute(
                f"CREATE TABLE bench_copy_usage (LIKE billing_usagerecord INCLUDING {including})"
            )
            connection.commit()
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for table, names, chunks in (
                    ("bench_copy_event", event_names, event_chunks),
                    ("bench_copy_usage", usage_names, usage_chunks),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                        for chunk in chunks:
                            copy.write(chunk)
            connection.commit()
            timings.append(time.perf_counter() - started)
            copied = connection.execute("SELECT count(*) FROM bench_copy_event").fetchone()[0]
            connection.execute("DROP TABLE bench_copy_event, bench_copy_usage")
            connection.commit()
    return timings, copied


# ---------------------------------------------------------------------------------------------
# Profiling (optional)


def start_profilers(worker_pids: list[int]) -> list[tuple[subprocess.Popen, Path]]:
    py_spy = VENV_BIN / "py-spy"
    if os.environ.get("BENCH_PYSPY") != "1":
        return []
    if not py_spy.exists():
        say("  BENCH_PYSPY=1 but py-spy is not installed in the virtualenv; no profile")
        return []
    profilers = []
    for pid in worker_pids:
        output = Path(f"/tmp/concord_bench_ingest_{pid}.txt")
        command = [str(py_spy), "record", "--format", "raw", "-r", "200", "-o", str(output)]
        process = subprocess.Popen(
            [*command, "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        profilers.append((process, output))
    time.sleep(1)  # py-spy attaches
    return profilers


def stop_profilers(profilers: list[tuple[subprocess.Popen, Path]]) -> None:
    for process, output in profilers:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        say(f"  py-spy profile (collapsed stacks): {output}")


# ---------------------------------------------------------------------------------------------
# The run


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def set_up(database: BenchDatabase) -> str:
    """Legal entities and the API client, through the ORM; returns the bearer token."""
    rows = ", ".join(
        f"({code!r}, {currency!r}, {country!r})"
        for code, (currency, country, _, _) in ENTITIES.items()
    )
    code = f"""
from billing.models import LegalEntity
from config.accounts.services import api_client_create
for code, currency, country in [{rows}]:
    LegalEntity.objects.update_or_create(
        code=code, defaults={{"name": "Bench " + code, "currency": currency, "country": country}}
    )
client, token = api_client_create(
    name={CLIENT_NAME!r}, scopes=["events:write", "read"], sources=["*"]
)
print(token)
"""
    return django_shell(code, database_url=database.url).strip().splitlines()[-1]


def run() -> int:
    size = scale()
    unique = max(UNIQUE_PER_BATCH, round(FULL_SIZE * size))
    threads = int(os.environ.get("BENCH_CLIENTS", "4"))
    say(f"ingest: {unique} unique events (BENCH_SCALE={size:g}), {threads} client threads")
    started = time.perf_counter()
    stream = build_stream(unique, random.Random(7))
    bodies = [serialise([stream.events[i] for i in batch]) for batch in stream.batches]
    sent = sum(len(batch) for batch in stream.batches)
    same_batch = sum(len(batch) - len(set(batch)) for batch in stream.batches)
    say(
        f"  stream: {sent} events sent = {unique} unique + {sent - unique} duplicates "
        f"({same_batch} in the same batch as the original), {len(bodies)} batches of at most "
        f"{BATCH_MAX}, {sum(map(len, bodies)) / 1e6:.0f} MB of JSON; built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    say(f"  types: {dict(stream.type_counts)}")

    with bench_database() as database:
        say(f"  database {database.name}: migrated")
        token = set_up(database)
        with Gunicorn(database.url, workers=WEB_WORKERS) as server:
            client = Client(server.port, token)
            started = time.perf_counter()
            post_setup(client, stream.customers)
            post_setup(client, stream.subscriptions)
            warm_up = warm_up_stream(WARM_UP_EVENTS)
            post_setup(client, warm_up)
            say(
                f"  set-up through the API: {CUSTOMERS} customers, {SUBSCRIPTIONS} subscriptions, "
                f"a warm-up of {len(warm_up)} events of the same mix, in "
                f"{time.perf_counter() - started:.1f} s (not timed)"
            )
            with database.connect(autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE")
            load = os.getloadavg()[0]
            say(f"  load average before the timed run: {load:.2f} on {os.cpu_count()} cores")

            sampler = CpuSampler(gunicorn_pid=server.pid, database_name=database.name)
            profilers = start_profilers(server.worker_pids())
            sampler.start()
            answers = client.post_all(bodies, threads)
            cpu = sampler.stop()
            stop_profilers(profilers)

        wall = max(a.finished for a in answers) - min(a.started for a in answers)
        latencies = [a.finished - a.started for a in answers]
        events_per_second = unique / wall
        say(
            f"  timed: {wall:.2f} s from the first request to the last response; "
            f"{events_per_second:,.0f} unique events/s ({sent / wall:,.0f} events/s counting "
            f"the duplicates), {len(answers) / wall:.1f} requests/s, batch latency p50 "
            f"{1000 * percentile(latencies, 0.5):.0f} ms, "
            f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, max {1000 * max(latencies):.0f} ms"
        )
        if os.environ.get("BENCH_VERBOSE") == "1":
            say("  batch latencies (ms, in batch order): " + " ".join(
                f"{1000 * (a.finished - a.started):.0f}" for a in answers
            ))  # fmt: skip
        outcome = check_answers(stream, answers)
        say(
            f"  answers: {outcome.status_mismatches} status mismatches; "
            f"{outcome.late_first_seen} events whose 202 went to a later copy (concurrent "
            f"batches); {server.count_in_log('retrying the batch')} batches redone after a "
            "deadlock or serialization failure"
        )
        check_database(database, stream, outcome)

        ratios = {}
        for including, label in (("ALL", "equivalent tables"), ("DEFAULTS", "bare tables")):
            timings, copied = copy_baseline(database, stream, outcome, including=including)
            copy_rate = copied / min(timings)
            ratios[including] = events_per_second / copy_rate
            say(
                f"  COPY baseline into {label} (LIKE ... INCLUDING {including}): {copied} event "
                f"rows + {stream.usage_count} usage rows in {min(timings):.2f} s (fastest of "
                f"{', '.join(f'{t:.2f}' for t in timings)}) = {copy_rate:,.0f} events/s; "
                f"ingest/COPY = {ratios[including]:.3f}"
            )
        ratio = ratios["ALL"]

    say("  where the CPU went during the timed window:")
    for line in cpu_report(cpu):
        say(line)
    web, db, cores = cpu["web"] / cpu["wall"], cpu["db"] / cpu["wall"], cpu["cores"]
    say(
        f"  limit: web workers at {100 * web:.0f}% of {100 * cores:.0f}% CPU, this database's "
        f"PostgreSQL backends at {100 * db:.0f}%, "
        f"other load {100 * cpu['other'] / cpu['wall']:.0f}%"
    )
    if not outcome.failures:
        server.discard_log()
    verdict = "met" if events_per_second >= TARGET_EVENTS_PER_SECOND else "MISSED"
    say(f"  target {TARGET_EVENTS_PER_SECOND} events/s: {verdict}")
    if outcome.failures:
        say(f"  server log: {server.log_path}")
        if server.first_error():
            say(f"  first server error: {server.first_error()}")
        say("FAILED:")
        for failure in outcome.failures:
            say(f"  {failure}")
    bench_line(
        NAME,
        round(events_per_second),
        "events/s",
        ratio,
        TARGET_RATIO,
        stored_twice=outcome.stored_twice,
        ratio_bare=f"{ratios['DEFAULTS']:.3f}",
    )
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(run())
