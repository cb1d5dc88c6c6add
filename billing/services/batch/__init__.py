"""Batch ingest of canonical events (POST /api/v1/events/batch); see `ingest` for the design.

`ingest`: the entry point, the retries, the claim and the answers; `plan`: which events take
the fast path, on rows read once; `writes`: the fast path's set-based writes.
"""

from billing.services.batch.ingest import events_ingest_batch

__all__ = ["events_ingest_batch"]
