"""(d) The ERP calls of a batch: each outside any transaction, with a deadline."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from erp_sync.adapters.base import ErpError, PostResult, RetryableError, UnparseableResponseError
from erp_sync.adapters.registry import adapter_for
from erp_sync.documents import document_from_json
from erp_sync.models import Connection, SyncJob
from erp_sync.services.tuning import Tuning

log = logging.getLogger(__name__)


@dataclass
class Call:
    """What one adapter call did."""

    started_at: dt.datetime
    duration_ms: int
    digest: str
    result: PostResult | None = None
    error: ErpError | None = None
    error_class: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def request_digest(document: dict) -> str:
    """sha256 of the document's canonical JSON: what exactly was sent."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def _stops_batch(error: ErpError) -> bool:
    """A failure that says the ERP (not this document) is in trouble: no more calls now."""
    return isinstance(error, RetryableError | UnparseableResponseError)


def call_batch(
    connection: Connection, jobs: list[SyncJob], tuning: Tuning, *, slot_ends: float
) -> list[Call]:
    """(d) Call the ERP for each job in turn; the calls made (a prefix of `jobs`).

    Every call has a deadline `lease_margin_seconds` before the slot ends (the leases, set
    after the slot was taken, end later): the adapter gives up at it. After the first call,
    a job is called only if a whole `call_timeout_seconds` still fits.
    """
    calls: list[Call] = []
    end = slot_ends - tuning.lease_margin_seconds
    for job in jobs:
        now = time.monotonic()
        if calls and end - now < tuning.call_timeout_seconds:
            break
        call = _call_erp(connection, job, deadline=min(now + tuning.call_timeout_seconds, end))
        calls.append(call)
        if call.error is not None and _stops_batch(call.error):
            break
    return calls


def _call_erp(connection: Connection, job: SyncJob, *, deadline: float) -> Call:
    """One ERP call, outside any transaction, given up at `deadline` (time.monotonic())."""
    started_at = timezone.now()
    digest = request_digest(job.document)
    clock = time.monotonic()
    call = Call(started_at=started_at, duration_ms=0, digest=digest)
    try:
        adapter = adapter_for(connection)
        call.result = adapter.post(document_from_json(job.document), deadline=deadline)
    except ErpError as error:
        call.error = error
        call.error_class = type(error).__name__
    except Exception as error:  # an adapter bug must not lose the job
        log.exception("adapter raised an unclassified error", extra={"job": job.pk})
        call.error = RetryableError(f"{type(error).__name__}: {error}")
        call.error_class = type(error).__name__
    call.duration_ms = int((time.monotonic() - clock) * 1000)
    return call
