"""Where a one-event ingest request spends its CPU, in one process (not a benchmark).

    .venv/bin/python -m tests.benchmarks.profile_single <database url> [N] [--cprofile FILE]
        [--bare] [--types usage.recorded,...] [--show-sql]

Run against a database kept by `BENCH_KEEP_DB=1 ... bench_ingest_single` (its customers,
subscriptions and warm-up are there). Builds N events of bench_ingest's mix under fresh ids,
and posts each through Django's WSGI handler (the whole request cycle and middleware, as
gunicorn calls it, without the socket), under the benchmark's settings module. Prints per
event type the Python CPU (`time.process_time`), the PostgreSQL backend's CPU (from /proc)
and the statements per request; with --bare the same bodies go to the bare baseline view too.
With --show-sql the statements of one request of each type are printed.
With --cprofile the run of ours is profiled and the stats written to FILE (top lines printed).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from collections import Counter

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARM = 20  # requests before the measure (the key cache, imports, plans)


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--cprofile")
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--types", default="")
    parser.add_argument("--show-sql", action="store_true", help="one request's statements a type")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()

    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="tests.benchmarks.single_settings",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        API_CLIENT_RATE="1000000/min",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.accounts.services import api_client_create
    from tests.benchmarks.bench_ingest import build_stream
    from tests.benchmarks.bench_ingest_single import BARE_URL, OURS_PATH

    # Fresh ids per run, so that every event is new (the records' ids too).
    tag = f"p{args.seed % 10**8}"
    events = build_stream(args.n + WARM, random.Random(7)).events
    for event in events:
        event["id"] = event["id"].replace("bench-m-", f"bench-{tag}-")
        for key in ("usage_id", "invoice_id", "payment_id"):
            if key in event["data"]:
                event["data"][key] = f"{tag}{event['data'][key]}"
    if args.types:
        wanted = set(args.types.split(","))
        events = [e for e in events if e["type"] in wanted]
    bodies = [(e["type"], json.dumps(e, separators=(",", ":")).encode()) for e in events]

    _, token = api_client_create(
        name=f"profile-{tag}", scopes=["events:write", "read"], sources=["*"]
    )
    handler = WSGIHandler()

    def post(path: str, body: bytes, authorization: str | None) -> int:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_ACCEPT": "application/json",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if authorization:
            environ["HTTP_AUTHORIZATION"] = authorization
        status = []
        response = handler(environ, lambda s, h, *a: status.append(s))
        b"".join(response)
        response.close()
        return int(status[0].split()[0])

    auth = f"Bearer {token}"
    # One backend for the whole run (not recycled after CONN_MAX_AGE), so its CPU adds up.
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.close()
    connection.ensure_connection()
    pid = connection.cursor().connection.info.backend_pid

    def run_side(path: str, authorization, expected: int, prefix: str, profile=None):
        cpu, db, statements, count = Counter(), Counter(), Counter(), Counter()
        statuses = Counter()
        for event_type, body in bodies:
            if prefix:
                body = body.replace(b"bench-", f"{prefix}-".encode(), 1)
            capture = CaptureQueriesContext(connection)
            db_before = backend_cpu(pid)
            started = time.process_time()
            if profile is not None:
                profile.enable()
            with capture:
                status = post(path, body, authorization)
            if profile is not None:
                profile.disable()
            cpu[event_type] += time.process_time() - started
            db[event_type] += backend_cpu(pid) - db_before
            statements[event_type] += len(capture.captured_queries)
            if args.show_sql and not count[event_type]:
                print(f"  {path} {event_type}, status {status}:")
                for query in capture.captured_queries:
                    print(f"    {query['sql'][:160]}")
            count[event_type] += 1
            statuses[status] += 1
        if set(statuses) != {expected}:
            print(f"  {path}: statuses {dict(statuses)}")
        return cpu, db, statements, count

    # Warm up: the key cache, imports, plans.
    warm, bodies = bodies[:WARM], bodies[WARM:]
    for _, body in warm:
        post(OURS_PATH, body, auth)
    profile = cProfile.Profile(time.process_time) if args.cprofile else None
    sides = {"ours": run_side(OURS_PATH, auth, 202, "", profile)}
    if args.bare:
        sides["bare"] = run_side(BARE_URL, None, 202, "bare")
    pid_after = connection.cursor().connection.info.backend_pid
    if pid_after != pid:
        print("  (the backend changed during the run: PostgreSQL CPU is not comparable)")

    for label, (cpu, db, statements, count) in sides.items():
        total = sum(count.values())
        print(
            f"{label}: {total} requests, {1000 * sum(cpu.values()) / total:.2f} ms Python + "
            f"{1000 * sum(db.values()) / total:.2f} ms PostgreSQL per request"
        )
        for event_type in sorted(count):
            n = count[event_type]
            print(
                f"  {event_type:<18} {n:5d}  {1000 * cpu[event_type] / n:6.2f} ms Python  "
                f"{1000 * db[event_type] / n:5.2f} ms PostgreSQL  "
                f"{statements[event_type] / n:5.1f} statements"
            )
    if profile is not None:
        profile.dump_stats(args.cprofile)
        stream = io.StringIO()
        stats = pstats.Stats(args.cprofile, stream=stream)
        stats.sort_stats("cumulative").print_stats(60)
        print(stream.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
