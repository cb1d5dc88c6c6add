"""The app's URLs plus bench_ingest_single's baseline: a bare Django view that validates
nothing and stores each posted event with one INSERT. Benchmark-only (single_settings.py).

The view parses the JSON (it needs the envelope's fields for the row's columns), hashes the
raw body for the digest column, INSERTs one row into `bench_bare_event` (a `LIKE
billing_financeevent INCLUDING ALL` copy the benchmark creates: same columns, CHECKs and
indexes) in autocommit, and answers 202. No authentication, no schema, no dedupe, no
billing records, no history: the floor the one-event endpoint is compared with.
"""

import hashlib

import orjson
from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as app_urlpatterns
from tests.benchmarks.bench_ingest_single import BARE_PATH, TABLE

INSERT = (
    f"INSERT INTO {TABLE} (source, event_id, type, specversion, event_time, entity,"
    " correlation_id, body, body_digest, state, quarantine_reason, quarantine_detail,"
    " apply_attempts, result, correction, received_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'received', '', '', 0, '{}', '{}', now())"
)


@csrf_exempt
@require_POST
def bare_event(request):
    raw = request.body
    event = orjson.loads(raw)
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [
                event["source"],
                event["id"],
                event["type"],
                event["specversion"],
                event["time"],
                event["entity"],
                event.get("correlationid", ""),
                raw.decode(),
                hashlib.sha256(raw).hexdigest(),
            ],
        )
    return HttpResponse(b'{"status":202}', status=202, content_type="application/json")


urlpatterns = [path(BARE_PATH, bare_event), *app_urlpatterns]
