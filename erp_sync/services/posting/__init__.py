"""Posting sync jobs to their ERP: gate, slot, batch claim, calls, outcomes.

Modules: `engine` (job_post: (a), (b), (f)), `claim` (c), `calls` (d), `outcomes` and
`failures` (e), `holds` (holds and the releases of held jobs). Each imports only the ones
after it in (engine, claim, outcomes, failures, calls, holds).

`job_post` is what the `erp_sync.post_job` task runs. It is safe to run any number of times
for one job, concurrently, from any worker:

(a) a read of the job's state: not pending / not a due retry_wait → return at once (a
    message for a job another task already took is a one-query no-op);
(b) the connection gate may hold the job (paused, maintenance window, circuit open: no
    call reaches the ERP); then a semaphore slot is taken (never more than
    `max_concurrency` calls in flight to one ERP);
(c) with the slot, one statement claims a batch: the message's job and up to
    `batch_size - 1` other ready jobs of the connection (FOR UPDATE SKIP LOCKED: two tasks
    never claim the same job), starts each with a lease and (PostgreSQL) writes each one's
    "attempt N started" history row;
(d) the adapter is called for each job in turn, OUTSIDE any transaction, each call with a
    deadline inside both the slot's and the lease's time (a call never outlives its lease,
    so a reclaimed job is never called twice at once). Adapters look the document up by
    external id before creating it, so a job whose last worker died after the ERP created
    the document just finds it. A retryable failure stops the batch (the ERP is in
    trouble: let the circuit breaker see it); the jobs not called go back to pending;
(e) the slot is released (it also expires by itself if the worker is killed, and a task
    waiting for one is woken at once), then one transaction records every attempt and
    outcome: posted (set-based: jobs, history, billing status; children released, cases
    resolved), retry with backoff, held, or dead with a case; a job taken over after its
    lease expired is left alone ("stale");
(f) while the backlog lasts and a slot is free, the task claims the next batch (for at
    most `drain_seconds`).

One job per call (`batch_size` 1) when tasks run eagerly: they run inside the caller's
request or transaction, which must not post other jobs.
"""

from erp_sync.services.posting.engine import job_post
from erp_sync.services.posting.holds import job_hold, jobs_release_children

__all__ = ["job_hold", "job_post", "jobs_release_children"]
