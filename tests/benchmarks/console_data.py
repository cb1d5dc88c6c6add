"""bench_console's data: a ledger of N invoices and N exception cases, written set-based.

Every row is what the ORM would write (all columns, the models' CHECK and unique constraints
kept), but made by `INSERT ... SELECT generate_series` in a few statements, so the full size
(1,000,000 invoices, 1,000,000 cases) takes minutes, not hours. What the services write
around them (legal entities, connections, users, the grouped case and a few sample cases)
goes through the ORM and the services, and bench_console.equivalence() compares a
service-made case with a generated one column by column.

Invoices n = 1..N: customer n % C, entity and currency the customer's (4 entities, 4
currencies), issued over 18 months, one line (two for every third), one "+" history row (and
a "~" for the paid quarter), their `invoice.issued` event (id n). The first N/10 invoices
were posted: a sync job each (id n, ERP number ERP-INV-<n>), one attempt (two for every
seventh, the first a retry).

Cases n = 1..N, of three subjects by n % 10: 0-3 an invoice (a reconciliation break), 4-8
an event of their own (id N + n, quarantined while the case is active, applied when it was
resolved, discarded when dismissed), 9 a sync job (id n / 10, dead while the case is active).
State, severity, owner and age are pseudo-random functions of n (`pg_temp` functions, so the
subjects' states agree with their cases'): 40% open, 10% acknowledged, 40% resolved, 10%
dismissed; ages up to 180 days; SLA due at first seen + the severity's hours; a third of the
active cases past their SLA escalated. One "+" history row each, and a "~" for a closed one.
"""

from __future__ import annotations

import datetime as dt
import re

ENTITIES = (("US01", "USD", "US", "0.08"), ("DE01", "EUR", "DE", "0.19"),
            ("UK01", "GBP", "GB", "0.20"), ("CA01", "CAD", "CA", "0.05"))  # fmt: skip
INVOICE_KINDS = (
    "reconciliation_amount_mismatch",
    "reconciliation_missing_in_erp",
    "reconciliation_tax_mismatch",
    "reconciliation_status_mismatch",
)
EVENT_KINDS = (
    "unknown_customer",
    "unknown_subscription",
    "closed_period",
    "currency_mismatch",
    "over_credit",
    "unknown_invoice",
    "duplicate_record",
)
JOB_KINDS = ("erp_rejected", "erp_error", "unbalanced_document", "invalid_amount")
GROUPED_ITEMS = 10_000
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _h(n: str, salt: int) -> str:
    """A pseudo-random percentile (0-99) of the integer SQL expression `n`."""
    return f"(({n}) * 7919 + {salt * 104729}) %% 100003 %% 100"


def case_state(n: str) -> str:
    """SQL: the state of generated case `n` (40% open, 10% acknowledged, 40% resolved,
    10% dismissed); inline, since PostgreSQL runs a function per row far slower."""
    h = _h(n, 1)
    return (
        f"CASE WHEN {h} < 40 THEN 'open' WHEN {h} < 50 THEN 'acknowledged' "
        f"WHEN {h} < 90 THEN 'resolved' ELSE 'dismissed' END"
    )


def case_severity(n: str) -> str:
    h = _h(n, 2)
    return (
        f"CASE WHEN {h} < 5 THEN 'critical' WHEN {h} < 30 THEN 'high' "
        f"WHEN {h} < 70 THEN 'medium' ELSE 'low' END"
    )


def job_dead(j: str) -> str:
    """SQL: whether sync job `j` is dead (blocked by the grouped case, or its case active)."""
    return (
        f"({j} <= {GROUPED_ITEMS} OR ({case_state(f'{j} * 10 + 9')}) IN ('open', 'acknowledged'))"
    )


EVENTS_SQL = """
INSERT INTO billing_financeevent (id, source, event_id, type, specversion, event_time, entity,
  correlation_id, body, body_digest, state, quarantine_reason, quarantine_detail,
  apply_attempts, result, received_at, applied_at, dispatched_at, received_by_id, correction)
SELECT n, 'billing-platform', 'evt_inv_' || n, 'invoice.issued', '1.0', t, e.code,
  'quote-' || (n / 4), jsonb_build_object('specversion', '1.0', 'id', 'evt_inv_' || n,
  'source', 'billing-platform', 'type', 'invoice.issued', 'entity', e.code,
  'data', jsonb_build_object('invoice_id', 'INV-' || lpad(n::text, 8, '0'),
  'customer_id', 'cus_' || (n %% %(customers)s), 'currency', e.currency)),
  md5('b' || n) || md5('c' || n), 'applied', '', '', 1, '{"status": 202}', t, t, t, NULL, '{}'
FROM generate_series(1::bigint, %(n)s::bigint) n
CROSS JOIN LATERAL (SELECT timestamptz '2026-12-01 09:00Z' - ((n * 37) %% 540) * interval '1 day'
  AS t) d
JOIN bench_entity e ON e.k = (n %% %(customers)s) %% 4
"""

QUARANTINED_EVENTS_SQL = """
INSERT INTO billing_financeevent (id, source, event_id, type, specversion, event_time, entity,
  correlation_id, body, body_digest, state, quarantine_reason, quarantine_detail,
  apply_attempts, result, received_at, applied_at, dispatched_at, received_by_id, correction)
SELECT %(n)s + n, 'billing-platform', 'evt_pay_' || n, 'payment.settled', '1.0', t, e.code, '',
  jsonb_build_object('specversion', '1.0', 'id', 'evt_pay_' || n, 'source', 'billing-platform',
  'type', 'payment.settled', 'entity', e.code, 'data', jsonb_build_object('payment_id',
  'pay_' || n, 'customer_id', 'cus_' || (n %% %(customers)s), 'amount', '125.00',
  'currency', e.currency)),
  md5('q' || n) || md5('r' || n), s.state, CASE WHEN s.state = 'applied' THEN '' ELSE k.kind END,
  CASE WHEN s.state = 'applied' THEN '' ELSE 'cannot apply: ' || k.kind END,
  CASE WHEN s.state = 'applied' THEN 2 ELSE 1 END,
  CASE WHEN s.state = 'applied' THEN '{"status": 202}'::jsonb
       ELSE '{"status": 202, "quarantined": true}'::jsonb END,
  t, CASE WHEN s.state = 'applied' THEN t + interval '2 hours' END,
  CASE WHEN s.state = 'applied' THEN t + interval '2 hours' END, NULL, '{}'
FROM generate_series(1::bigint, %(n)s::bigint) n
CROSS JOIN LATERAL (SELECT %(now)s::timestamptz - ((n * 104729) %% 259200) * interval '1 minute'
  AS t, (%(event_kinds)s::text[])[1 + (n / 10) %% %(n_event_kinds)s] AS kind) k
CROSS JOIN LATERAL (SELECT CASE @state:n@ WHEN 'resolved' THEN 'applied'
  WHEN 'dismissed' THEN 'discarded' ELSE 'quarantined' END AS state) s
JOIN bench_entity e ON e.k = (n %% %(customers)s) %% 4
WHERE n %% 10 BETWEEN 4 AND 8 OR n <= 10
"""

CUSTOMERS_SQL = """
INSERT INTO billing_customer (customer_id, name, country, currency, region, tax_id, event_id,
  entity_id)
SELECT 'cus_' || c, 'Customer ' || c || ' ' || e.code, e.country, e.currency, '', '', NULL, e.id
FROM generate_series(0, %(customers)s - 1) c JOIN bench_entity e ON e.k = c %% 4
"""

INVOICES_SQL = """
INSERT INTO billing_invoice (id, erp_status, erp_document_number, erp_document_id, invoice_id,
  issue_date, due_date, currency, subtotal_amount, tax_amount, total_amount, paid_amount,
  credited_amount, written_off_amount, state, customer_id, event_id, entity_id, subscription_id)
SELECT n, CASE WHEN n > %(jobs)s THEN 'not_sent' WHEN @dead:n@ THEN 'dead'
    ELSE 'posted' END,
  CASE WHEN n <= %(jobs)s AND NOT @dead:n@ THEN 'ERP-INV-' || lpad(n::text, 8, '0')
    ELSE '' END,
  CASE WHEN n <= %(jobs)s AND NOT @dead:n@ THEN n::text ELSE '' END,
  'INV-' || lpad(n::text, 8, '0'), f.issued, f.issued + 30, e.currency, a.sub, a.tax,
  a.sub + a.tax, CASE WHEN n %% 4 = 0 THEN a.sub + a.tax ELSE 0 END, 0, 0,
  CASE WHEN n %% 4 = 0 THEN 'paid' ELSE 'issued' END, cu.id, n, e.id, NULL
FROM generate_series(1::bigint, %(n)s::bigint) n
JOIN bench_entity e ON e.k = (n %% %(customers)s) %% 4
JOIN billing_customer cu ON cu.customer_id = 'cus_' || (n %% %(customers)s)
CROSS JOIN LATERAL (SELECT DATE '2026-12-01' - ((n * 37) %% 540)::int AS issued) f
CROSS JOIN LATERAL (SELECT ((n * 7919) %% 99991) / 100.0 + 10 AS sub) s
CROSS JOIN LATERAL (SELECT s.sub, round(s.sub * e.rate, 2) AS tax) a
"""

LINES_SQL = """
INSERT INTO billing_invoiceline (line_id, description, product_family, quantity, unit_price,
  amount, tax_code, tax_amount, invoice_id)
SELECT i.invoice_id || '-' || l.no, l.family || ' subscription', l.family, 1, l.amount,
  l.amount, 'STD', l.tax, i.id
FROM billing_invoice i
CROSS JOIN LATERAL (SELECT 1 AS no, CASE WHEN i.id %% 3 = 0 THEN round(i.subtotal_amount / 2, 2)
    ELSE i.subtotal_amount END AS amount,
  CASE WHEN i.id %% 3 = 0 THEN round(i.tax_amount / 2, 2) ELSE i.tax_amount END AS tax,
  'platform' AS family
  UNION ALL
  SELECT 2, i.subtotal_amount - round(i.subtotal_amount / 2, 2),
  i.tax_amount - round(i.tax_amount / 2, 2), 'support' WHERE i.id %% 3 = 0) l
"""

INVOICE_HISTORY_SQL = """
INSERT INTO billing_historicalinvoice (id, correlation_id, erp_status, erp_document_number,
  erp_document_id, invoice_id, issue_date, due_date, currency, subtotal_amount, tax_amount,
  total_amount, paid_amount, credited_amount, written_off_amount, state, history_date,
  history_change_reason, history_type, customer_id, event_id, history_user_id, entity_id,
  subscription_id)
SELECT i.id, 'quote-' || (i.id / 4), 'not_sent', '', '', i.invoice_id, i.issue_date,
  i.due_date, i.currency, i.subtotal_amount, i.tax_amount, i.total_amount, 0, 0, 0, 'issued',
  i.issue_date + time '09:00', 'invoice.issued billing-platform/evt_inv_' || i.id, '+',
  i.customer_id, i.event_id, %(api_user)s, i.entity_id, i.subscription_id
FROM billing_invoice i
UNION ALL
SELECT i.id, '', i.erp_status, i.erp_document_number, i.erp_document_id, i.invoice_id,
  i.issue_date, i.due_date, i.currency, i.subtotal_amount, i.tax_amount, i.total_amount,
  0, 0, 0, 'issued', i.issue_date + time '10:00', 'posted to the ERP as ' || i.erp_document_number,
  '~', i.customer_id, i.event_id, NULL::bigint, i.entity_id, i.subscription_id
FROM billing_invoice i WHERE i.erp_status = 'posted'
UNION ALL
SELECT i.id, '', i.erp_status, i.erp_document_number, i.erp_document_id, i.invoice_id,
  i.issue_date, i.due_date, i.currency, i.subtotal_amount, i.tax_amount, i.total_amount,
  i.paid_amount, 0, 0, i.state, i.issue_date + time '11:00', 'payment.settled allocated', '~',
  i.customer_id, i.event_id, %(api_user)s, i.entity_id, i.subscription_id
FROM billing_invoice i WHERE i.state = 'paid'
"""

JOBS_SQL = """
INSERT INTO erp_sync_syncjob (id, document_type, external_id, parent_external_id, state,
  hold_reason, document, attempts, max_attempts, next_attempt_at, lease_expires_at, erp_id,
  erp_number, posted_at, posting_date, last_error, last_error_code, cancel_reason, created_at,
  updated_at, connection_id, event_id, earlier_attempts)
SELECT j, 'invoice', 'concord-inv-' || md5('evt_inv_' || j), '', s.state, '',
  jsonb_build_object('kind', 'invoice', 'number', i.invoice_id, 'currency', i.currency,
  'total', i.total_amount::text), CASE WHEN j %% 7 = 0 THEN 2 ELSE 1 END, 8, NULL, NULL,
  CASE WHEN s.dead THEN '' ELSE j::text END,
  CASE WHEN s.dead THEN '' ELSE 'ERP-INV-' || lpad(j::text, 8, '0') END,
  CASE WHEN s.dead THEN NULL ELSE i.issue_date + time '10:00' END,
  CASE WHEN s.dead THEN NULL ELSE i.issue_date END,
  CASE WHEN s.dead THEN 'the ERP refused the document' ELSE '' END,
  CASE WHEN j <= %(items)s THEN 'mapping_missing' WHEN s.dead THEN 'erp_rejected' ELSE '' END, '',
  i.issue_date + time '09:01', i.issue_date + time '10:00', c.id, j, 0
FROM generate_series(1::bigint, %(jobs)s::bigint) j
JOIN billing_invoice i ON i.id = j
JOIN erp_sync_connection c ON c.entity_id = i.entity_id
CROSS JOIN LATERAL (SELECT @dead:j@ AS dead) d
CROSS JOIN LATERAL (SELECT d.dead, CASE WHEN d.dead THEN 'dead' ELSE 'posted' END AS state) s
"""

ATTEMPTS_SQL = """
INSERT INTO erp_sync_syncattempt (number, started_at, duration_ms, request_digest, outcome,
  error_class, error_message, response, erp_reference, job_id)
SELECT a.no, j.created_at + a.no * interval '1 minute', 40 + j.id %% 200,
  md5('req' || j.id), CASE WHEN a.no < j.attempts THEN 'retry'
    WHEN j.state = 'dead' THEN 'dead' ELSE 'posted' END,
  CASE WHEN a.no < j.attempts THEN 'ErpUnavailable' WHEN j.state = 'dead' THEN 'ErpRejected'
    ELSE '' END,
  CASE WHEN a.no < j.attempts THEN 'timeout' WHEN j.state = 'dead' THEN 'refused' ELSE '' END,
  '{}', CASE WHEN a.no = j.attempts AND j.state = 'posted' THEN j.erp_number ELSE '' END, j.id
FROM erp_sync_syncjob j CROSS JOIN LATERAL generate_series(1, j.attempts) a(no)
WHERE j.id <= %(jobs)s
"""

# Cases: the subject and kind by n % 10, the rest pseudo-random in n (see the docstring).
CASES_SQL = """
INSERT INTO exceptions_case (kind, severity, state, subject_id, subject_label, entity, customer,
  partner, period, title, detail, sla_due_at, occurrences, first_seen_at, last_seen_at,
  resolved_at, resolution, blocking, owner_id, subject_type_id, cause_key, escalated_at,
  item_count, owner_group_id)
SELECT k.kind, v.severity, v.state, k.subject_id, k.label, e.code, 'cus_' || (n %% %(customers)s),
  '', to_char(v.first_seen, 'YYYY-MM'), k.title, jsonb_build_object('source', k.src), v.due,
  v.occurrences, v.first_seen, v.last_seen,
  CASE WHEN v.closed THEN v.last_seen + interval '1 hour' END,
  CASE WHEN v.state = 'resolved' THEN 'fixed at the source'
       WHEN v.state = 'dismissed' THEN 'not a problem' ELSE '' END,
  v.severity IN ('high', 'critical'),
  CASE WHEN v.state = 'acknowledged' OR (v.closed AND n %% 2 = 0)
       THEN (%(owners)s::bigint[])[1 + n %% %(n_owners)s] END,
  k.type_id, '',
  CASE WHEN NOT v.closed AND v.due < %(now)s AND n %% 3 = 0 THEN v.due + interval '15 minutes' END,
  0, g.group_id
FROM generate_series(1::bigint, %(n)s::bigint) n
JOIN bench_entity e ON e.k = (n %% %(customers)s) %% 4
CROSS JOIN LATERAL (SELECT @state:n@ AS state, @severity:n@ AS severity,
  %(now)s::timestamptz - ((n * 104729) %% 259200) * interval '1 minute' AS first_seen) b
CROSS JOIN LATERAL (SELECT b.state, b.severity, b.first_seen, b.state IN ('resolved', 'dismissed')
  AS closed, LEAST(b.first_seen + ((n * 13) %% 4320) * interval '1 minute', %(now)s::timestamptz)
  AS last_seen, 1 + CASE WHEN n %% 5 = 0 THEN n %% 7 ELSE 0 END AS occurrences,
  b.first_seen + (CASE b.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 24 WHEN 'medium' THEN 72
  ELSE 168 END) * interval '1 hour' AS due) v
CROSS JOIN LATERAL (
  SELECT (%(invoice_kinds)s::text[])[1 + (n / 10) %% 4] AS kind, n::text AS subject_id,
    'INV-' || lpad(n::text, 8, '0') AS label, %(invoice_type)s AS type_id, 'reconciliation' AS src,
    'Invoice INV-' || lpad(n::text, 8, '0') || ' differs from the ERP' AS title
  WHERE n %% 10 < 4 AND n > 10
  UNION ALL
  SELECT (%(event_kinds)s::text[])[1 + (n / 10) %% %(n_event_kinds)s], (%(n)s + n)::text,
    'payment.settled billing-platform/evt_pay_' || n, %(event_type)s, 'billing',
    'Event evt_pay_' || n || ' could not be applied'
  WHERE n %% 10 BETWEEN 4 AND 8 OR n <= 10
  UNION ALL
  SELECT (%(job_kinds)s::text[])[1 + (n / 10) %% 4], (n / 10)::text,
    'Sync job #' || (n / 10), %(job_type)s, 'erp_sync',
    'Invoice INV-' || lpad((n / 10)::text, 8, '0') || ' refused by the ERP'
  WHERE n %% 10 = 9) k
JOIN bench_kind_group g ON g.kind = k.kind
"""

CASE_HISTORY_SQL = """
INSERT INTO exceptions_historicalcase (id, correlation_id, kind, severity, state, subject_id,
  subject_label, entity, customer, partner, period, title, detail, sla_due_at, occurrences,
  first_seen_at, last_seen_at, resolved_at, resolution, blocking, history_date,
  history_change_reason, history_type, history_user_id, owner_id, subject_type_id, cause_key,
  escalated_at, item_count, owner_group_id)
SELECT c.id, '', c.kind, c.severity, 'open', c.subject_id, c.subject_label, c.entity, c.customer,
  c.partner, c.period, c.title, c.detail, c.sla_due_at, 1, c.first_seen_at, c.first_seen_at,
  NULL, '', c.blocking, c.first_seen_at, left('opened: ' || c.title, 100), '+', NULL, NULL,
  c.subject_type_id, c.cause_key, NULL, c.item_count, c.owner_group_id
FROM exceptions_case c WHERE c.id > %(after)s
UNION ALL
SELECT c.id, '', c.kind, c.severity, c.state, c.subject_id, c.subject_label, c.entity,
  c.customer, c.partner, c.period, c.title, c.detail, c.sla_due_at, c.occurrences,
  c.first_seen_at, c.last_seen_at, c.resolved_at, c.resolution, c.blocking,
  COALESCE(c.resolved_at, c.last_seen_at), left(c.state || ': ' || c.resolution, 100), '~',
  c.owner_id, c.owner_id, c.subject_type_id, c.cause_key, c.escalated_at, c.item_count,
  c.owner_group_id
FROM exceptions_case c WHERE c.id > %(after)s AND c.state <> 'open'
"""

ITEMS_SQL = """
INSERT INTO exceptions_caseitem (subject_id, label, value_amount, currency, customer, period,
  added_at, cleared_at, case_id, subject_type_id)
SELECT j.id::text, 'Sync job #' || j.id || ': invoice ' || i.invoice_id, i.total_amount,
  i.currency, cu.customer_id, to_char(i.issue_date, 'YYYY-MM'),
  %(now)s::timestamptz - (%(items)s - j.id) * interval '1 minute', NULL, %(case)s, %(job_type)s
FROM erp_sync_syncjob j JOIN billing_invoice i ON i.id = j.event_id
JOIN billing_customer cu ON cu.id = i.customer_id
WHERE j.id BETWEEN 2 AND %(items)s
"""

# Bulk-written tables: their plain indexes are dropped for the load and built again after it
# (one sorted build each instead of a million insertions; a unique index that the data broke
# fails to build, so the partial unique constraints still check the generated rows).
BULK_TABLES = (
    "billing_financeevent",
    "billing_invoice",
    "billing_invoiceline",
    "billing_historicalinvoice",
    "erp_sync_syncjob",
    "erp_sync_syncattempt",
    "exceptions_case",
    "exceptions_historicalcase",
    "exceptions_caseitem",
)
INDEXES_SQL = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""

SEQUENCES = (
    "billing_financeevent",
    "billing_invoice",
    "erp_sync_syncjob",
)


def expand(sql: str) -> str:
    """`sql` with its @state:n@, @severity:n@ and @dead:j@ marks written out."""
    makers = {"state": case_state, "severity": case_severity, "dead": job_dead}
    return re.sub(r"@(\w+):(\w+)@", lambda m: makers[m.group(1)](m.group(2)), sql)


def sizes(scale: float) -> dict[str, int]:
    n = max(int(1_000_000 * scale), 20 * GROUPED_ITEMS // 10)
    return {"n": n, "customers": max(n // 50, 100), "jobs": max(n // 10, GROUPED_ITEMS * 2)}


def _setup_orm(size: dict) -> dict:
    """Entities, their sandbox connections, the users; returns what the SQL needs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from billing.models import LegalEntity
    from erp_sync.models import Connection

    for code, currency, country, _ in ENTITIES:
        entity = LegalEntity.objects.create(
            code=code, name=f"Bench {code}", currency=currency, country=country
        )
        Connection.objects.create(name=f"sandbox-{code}", entity=entity, adapter_kind="sandbox")
    users = get_user_model().objects
    ops = Group.objects.get(name="finance_ops")
    owners = []
    for i in range(20):
        user = users.create_user(username=f"ops{i:02d}")
        user.groups.add(ops)
        owners.append(user.pk)
    api_user = users.create_user(username="api:billing-platform")
    return {"owners": owners, "api_user": api_user.pk}


def _kind_groups(cursor) -> None:
    from exceptions.services import owner_group_for

    kinds = (*INVOICE_KINDS, *EVENT_KINDS, *JOB_KINDS)
    cursor.execute("CREATE TEMP TABLE bench_kind_group (kind text, group_id int)")
    for kind in kinds:
        group = owner_group_for(kind)
        cursor.execute(
            "INSERT INTO bench_kind_group VALUES (%s, %s)", [kind, group.pk if group else None]
        )


def generate(size: dict, say) -> dict:
    """Write the whole ledger; returns facts the benchmark checks pages against."""
    import time

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from billing.models import FinanceEvent, Invoice
    from erp_sync.models import SyncJob

    made = _setup_orm(size)
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL, [list(BULK_TABLES)])
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    params = {
        **size,
        "now": NOW,
        "owners": made["owners"],
        "n_owners": len(made["owners"]),
        "api_user": made["api_user"],
        "invoice_kinds": list(INVOICE_KINDS),
        "event_kinds": list(EVENT_KINDS),
        "n_event_kinds": len(EVENT_KINDS),
        "job_kinds": list(JOB_KINDS),
        "invoice_type": ContentType.objects.get_for_model(Invoice).pk,
        "event_type": ContentType.objects.get_for_model(FinanceEvent).pk,
        "job_type": ContentType.objects.get_for_model(SyncJob).pk,
        "items": GROUPED_ITEMS,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_entity AS SELECT e.id, e.code, e.currency, e.country, "
            "v.k, v.rate FROM billing_legalentity e JOIN (VALUES "
            + ", ".join(f"('{c}', {k}, {r}::numeric)" for k, (c, _, _, r) in enumerate(ENTITIES))
            + ") v(code, k, rate) ON v.code = e.code"
        )
        _kind_groups(cursor)
        steps = (
            ("invoice events", EVENTS_SQL),
            ("quarantined events", QUARANTINED_EVENTS_SQL),
            ("customers", CUSTOMERS_SQL),
            ("invoices", INVOICES_SQL),
            ("invoice lines", LINES_SQL),
            ("invoice history", INVOICE_HISTORY_SQL),
            ("sync jobs", JOBS_SQL),
            ("sync attempts", ATTEMPTS_SQL),
        )
        for label, sql in steps:
            clock = time.monotonic()
            cursor.execute(expand(sql), params)
            say(f"    {label}: {cursor.rowcount} rows, {time.monotonic() - clock:.1f} s")
        for table in SEQUENCES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
    samples = _service_cases(size)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM exceptions_case")
        after = cursor.fetchone()[0]
        for label, sql in (("cases", CASES_SQL), ("case history", CASE_HISTORY_SQL)):
            clock = time.monotonic()
            cursor.execute(expand(sql), {**params, "after": after})
            say(f"    {label}: {cursor.rowcount} rows, {time.monotonic() - clock:.1f} s")
        cursor.execute(ITEMS_SQL, {**params, "case": samples["grouped"], "items": GROUPED_ITEMS})
        cursor.execute(
            "UPDATE exceptions_case SET item_count = (SELECT count(*) FROM exceptions_caseitem "
            "WHERE case_id = %s AND cleared_at IS NULL) WHERE id = %s",
            [samples["grouped"], samples["grouped"]],
        )
    clock = time.monotonic()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
    say(f"    {len(indexes)} indexes built again: {time.monotonic() - clock:.1f} s")
    return {**samples, "after": after}


def _service_cases(size: dict) -> dict:
    """Cases written by the services: the grouped case (its first item) and record-level
    samples on invoices 1-3 that `equivalence` compares with generated ones."""
    from billing.models import Invoice
    from erp_sync.models import SyncJob
    from exceptions.services import BlockedRecord, case_open_or_bump

    job = SyncJob.objects.select_related("connection", "event").get(pk=1)
    invoice = Invoice.objects.select_related("customer").get(pk=1)
    grouped = case_open_or_bump(
        subject=job.connection,
        kind="mapping_missing",
        severity="high",
        title=f"No invoice rule for {job.event.entity} / support ({job.connection.name})",
        detail={"connection": job.connection.name, "last_job": "no mapping rule"},
        entity=job.event.entity,
        cause_key=f"{job.connection.pk}:{job.event.entity}:invoice:support:",
        item=BlockedRecord(
            subject=job,
            label=f"Sync job #{job.pk}: invoice {invoice.invoice_id}",
            value_amount=invoice.total_amount,
            currency=invoice.currency,
            customer=invoice.customer.customer_id,
            period=invoice.issue_date.strftime("%Y-%m"),
        ),
    )
    samples = []
    for pk, kind in ((1, INVOICE_KINDS[0]), (2, INVOICE_KINDS[1]), (3, INVOICE_KINDS[2])):
        record = Invoice.objects.select_related("entity", "customer").get(pk=pk)
        case = case_open_or_bump(
            subject=record,
            kind=kind,
            severity="high",
            title=f"Invoice {record.invoice_id} differs from the ERP",
            detail={"source": "reconciliation"},
            entity=record.entity.code,
            customer=record.customer.customer_id,
            period=dt.date.today().strftime("%Y-%m"),
        )
        samples.append(case.pk)
    return {"grouped": grouped.pk, "samples": samples}
