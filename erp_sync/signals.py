"""Signals erp_sync sends, for any app that must react to what the ERP now holds.

- `documents_posted(sender=SyncJob, jobs=[SyncJob, ...], actor=...)`: the jobs' documents are
  in the ERP (posted now, or found there already). Sent inside the transaction that records
  them posted, so a receiver's writes commit (or roll back) with that record; each job has
  `event` (its FinanceEvent, body deferred) and `erp_number`. A job is reported once: a
  replay of a posted job is not posted again. Receivers must be quick and set-based (a batch
  holds up to hundreds of jobs) and must not call the ERP.

erp_sync connects its own receiver for settlements (`receivers.on_documents_posted`: the
vendor bill of a `settlement.approved` event is in the ERP → the settlement is posted);
partners, a lower layer, is called, never imported the other way.
"""

from django.dispatch import Signal

documents_posted = Signal()
