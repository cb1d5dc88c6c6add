"""Every write of billing; import them from here: `from billing.services import event_ingest`."""

from billing.services.batch import events_ingest_batch
from billing.services.corrections import event_correct
from billing.services.events import (
    IngestOutcome,
    event_discard,
    event_ingest,
    event_replay,
    events_replay,
)
from billing.services.records import (
    event_mark_dispatched,
    record_erp_status_set,
    records_erp_status_set_many,
)

__all__ = [
    "IngestOutcome",
    "event_correct",
    "event_discard",
    "event_ingest",
    "event_mark_dispatched",
    "event_replay",
    "events_ingest_batch",
    "events_replay",
    "record_erp_status_set",
    "records_erp_status_set_many",
]
