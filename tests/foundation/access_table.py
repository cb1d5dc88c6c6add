"""Who may do what: the table the access matrix test (test_access_matrix.py) holds the code to.

Actors: the five roles (config/roles.py), an API client per scope ("scope:<name>", all
sources) and "anonymous". A row says which roles and which scopes are allowed; every other
role or client is refused (403) and an anonymous caller is sent away (API: 401; console:
302 to the sign-in page). "Allowed" means the permission let the request through: 2xx,
3xx, or a 400/404/405/409 from the view itself (empty bodies, a command not valid in the
object's state), never 401, 403 or a 5xx.

To add a route: one line in API (method, path exactly as in /api/v1/schema/) or CONSOLE
(URL name as `reverse()` takes it, method). The test names the missing key in that form.
"""

from dataclasses import dataclass

from config.accounts.models import API_SCOPES
from config.roles import AUDITOR, CHANNEL_MANAGER, FINANCE_OPS, INTEGRATION_ADMIN, PARTNER, ROLES

INTERNAL = frozenset({FINANCE_OPS, CHANNEL_MANAGER, INTEGRATION_ADMIN, AUDITOR})
ALL_ROLES = frozenset(ROLES)
NOBODY: frozenset = frozenset()
SCOPES = tuple(API_SCOPES)
ALL_SCOPES = frozenset(SCOPES)
CLIENTS = tuple(f"scope:{scope}" for scope in SCOPES)
ANONYMOUS = "anonymous"
ACTORS = (*ROLES, *CLIENTS, ANONYMOUS)

# What an anonymous caller (or one that cannot be identified) gets.
API_AUTH = "401"  # API: 401 with WWW-Authenticate
LOGIN = "login"  # console: 302 to the sign-in page
PUBLIC = "public"  # anyone, signed in or not


@dataclass(frozen=True)
class Rule:
    roles: frozenset = NOBODY
    scopes: frozenset = NOBODY
    anonymous: str = API_AUTH

    def expected(self, actor: str) -> str:
        """ "allowed", "public", "403", "401" or "login" for this actor."""
        if self.anonymous == PUBLIC:
            return PUBLIC
        if actor == ANONYMOUS:
            return self.anonymous
        if actor.startswith("scope:"):
            if self.anonymous == LOGIN:
                # The console does not take bearer tokens: a client is just not signed in.
                return LOGIN
            return "allowed" if actor.removeprefix("scope:") in self.scopes else "403"
        return "allowed" if actor in self.roles else "403"


def api(roles=NOBODY, *scopes: str) -> Rule:
    return Rule(frozenset(roles), frozenset(scopes))


def console(roles) -> Rule:
    return Rule(frozenset(roles), NOBODY, LOGIN)


READ = api(INTERNAL, "read")
OWN = api(ALL_ROLES, "read")
FIN = {FINANCE_OPS}
CHANNEL = {CHANNEL_MANAGER}
INTEGRATION = {INTEGRATION_ADMIN}

# (method, path as in the OpenAPI document) -> Rule
API: dict[tuple[str, str], Rule] = {
    # exceptions
    ("GET", "/api/v1/cases/"): READ,
    ("GET", "/api/v1/cases/{id}/"): READ,
    ("GET", "/api/v1/cases/counts/"): READ,
    ("POST", "/api/v1/cases/bulk/"): api(FIN, "cases:write"),
    ("POST", "/api/v1/cases/{id}/assign/"): api(FIN, "cases:write"),
    ("POST", "/api/v1/cases/{id}/acknowledge/"): api(FIN, "cases:write"),
    ("POST", "/api/v1/cases/{id}/comments/"): api(FIN | CHANNEL, "cases:write"),
    ("POST", "/api/v1/cases/{id}/dismiss/"): api(FIN, "cases:write"),
    ("POST", "/api/v1/cases/{id}/remediate/"): api(FIN, "cases:write"),
    ("POST", "/api/v1/cases/{id}/resolve/"): api(FIN, "cases:write"),
    # billing
    ("GET", "/api/v1/credit-notes/"): READ,
    ("GET", "/api/v1/credit-notes/{credit_note_id}/"): READ,
    ("GET", "/api/v1/customers/"): READ,
    ("GET", "/api/v1/customers/{customer_id}/"): READ,
    ("GET", "/api/v1/event-types/"): READ,
    ("GET", "/api/v1/events/"): READ,
    # Ingest is for machines: no role holds billing.add_financeevent.
    ("POST", "/api/v1/events/"): api(NOBODY, "events:write"),
    ("POST", "/api/v1/events/batch/"): api(NOBODY, "events:write"),
    ("GET", "/api/v1/events/{source}/{event_id}/"): READ,
    ("POST", "/api/v1/events/{source}/{event_id}/replay/"): api(FIN, "events:write"),
    ("POST", "/api/v1/events/{source}/{event_id}/correct/"): api(FIN, "events:write"),
    ("POST", "/api/v1/events/replay/"): api(FIN, "events:write"),
    ("GET", "/api/v1/invoices/"): READ,
    ("GET", "/api/v1/invoices/{invoice_id}/"): READ,
    ("GET", "/api/v1/payments/"): READ,
    ("GET", "/api/v1/payments/{payment_id}/"): READ,
    ("GET", "/api/v1/subscriptions/"): READ,
    ("GET", "/api/v1/subscriptions/{subscription_id}/"): READ,
    # partners
    ("GET", "/api/v1/partners/"): READ,
    ("GET", "/api/v1/partners/{id}/"): READ,
    ("GET", "/api/v1/agreements/"): READ,
    ("GET", "/api/v1/agreements/{id}/"): READ,
    # A partner user reads its own partner's accruals, settlements and statements (the
    # queryset is scoped: another partner's object is 404).
    ("GET", "/api/v1/accruals/"): OWN,
    ("GET", "/api/v1/accruals/{id}/"): OWN,
    ("GET", "/api/v1/settlements/"): OWN,
    ("GET", "/api/v1/settlements/{id}/"): OWN,
    ("GET", "/api/v1/settlements/{id}/statement.csv/"): OWN,
    ("GET", "/api/v1/settlements/{id}/statement.pdf/"): OWN,
    ("POST", "/api/v1/settlements/{id}/pay/"): api(CHANNEL, "settlements:write"),
    ("POST", "/api/v1/settlements/{id}/calculate/"): api(CHANNEL, "settlements:write"),
    ("POST", "/api/v1/settlements/{id}/submit/"): api(CHANNEL, "settlements:write"),
    ("POST", "/api/v1/settlements/{id}/approve/"): api(CHANNEL, "settlements:write"),
    ("POST", "/api/v1/settlements/{id}/reject/"): api(CHANNEL, "settlements:write"),
    # erp_sync
    ("GET", "/api/v1/connections/"): READ,
    ("POST", "/api/v1/connections/"): api(INTEGRATION, "sync:write"),
    ("GET", "/api/v1/connections/{id}/"): READ,
    ("PUT", "/api/v1/connections/{id}/"): api(INTEGRATION, "sync:write"),
    ("PATCH", "/api/v1/connections/{id}/"): api(INTEGRATION, "sync:write"),
    ("GET", "/api/v1/connections/{id}/health/"): READ,
    ("POST", "/api/v1/connections/{id}/pause/"): api(INTEGRATION, "sync:write"),
    ("POST", "/api/v1/connections/{id}/resume/"): api(INTEGRATION, "sync:write"),
    ("POST", "/api/v1/connections/{id}/maintenance-windows/"): api(INTEGRATION, "sync:write"),
    ("DELETE", "/api/v1/connections/{id}/maintenance-windows/{window_pk}/"): api(
        INTEGRATION, "sync:write"
    ),
    ("GET", "/api/v1/mapping-rules/"): READ,
    ("POST", "/api/v1/mapping-rules/"): api(INTEGRATION, "mapping:write"),
    ("GET", "/api/v1/mapping-rules/{id}/"): READ,
    ("PUT", "/api/v1/mapping-rules/{id}/"): api(INTEGRATION, "mapping:write"),
    ("PATCH", "/api/v1/mapping-rules/{id}/"): api(INTEGRATION, "mapping:write"),
    ("DELETE", "/api/v1/mapping-rules/{id}/"): api(INTEGRATION, "mapping:write"),
    ("POST", "/api/v1/mapping-rules/preview/"): READ,
    ("GET", "/api/v1/sync-jobs/"): READ,
    ("GET", "/api/v1/sync-jobs/{id}/"): READ,
    ("POST", "/api/v1/sync-jobs/{id}/cancel/"): api(FIN, "sync:write"),
    ("POST", "/api/v1/sync-jobs/{id}/replay/"): api(FIN | INTEGRATION, "sync:write"),
    ("POST", "/api/v1/sync-jobs/replay/"): api(FIN | INTEGRATION, "sync:write"),
    # reconciliation
    ("GET", "/api/v1/reconciliation-runs/"): READ,
    ("POST", "/api/v1/reconciliation-runs/"): api(FIN, "recon:write"),
    ("GET", "/api/v1/reconciliation-runs/{id}/"): READ,
    ("GET", "/api/v1/reconciliation-runs/{id}/breaks/"): READ,
    ("GET", "/api/v1/reconciliation-runs/{id}/matches/"): READ,
    ("GET", "/api/v1/reconciliation-runs/breaks/"): READ,
    ("GET", "/api/v1/reconciliation-runs/breaks/{id}/"): READ,
    ("POST", "/api/v1/reconciliation-runs/breaks/{id}/accept/"): api(FIN, "recon:write"),
    ("POST", "/api/v1/reconciliation-runs/matches/confirm/"): api(FIN, "recon:write"),
    ("POST", "/api/v1/reconciliation-runs/matches/reject/"): api(FIN, "recon:write"),
    ("GET", "/api/v1/reconciliation-runs/breaks/export/"): READ,
    ("GET", "/api/v1/kpis/"): READ,
    ("GET", "/api/v1/close-checklist/"): READ,
}

# (URL name, method) -> Rule, for every non-API pattern of the resolver (admin/ and static
# excepted). The schema and its docs live under /api/v1/ but are not in the document.
CONSOLE: dict[tuple[str, str], Rule] = {
    ("console-home", "GET"): console(ALL_ROLES),
    ("accounts:login", "GET"): Rule(anonymous=PUBLIC),
    ("accounts:logout", "POST"): Rule(anonymous=PUBLIC),
    ("accounts:password-change", "GET"): console(ALL_ROLES),
    ("accounts:otp-verify", "GET"): console(ALL_ROLES),
    ("accounts:otp-setup", "GET"): console(ALL_ROLES),
    # permission_required(raise_exception=True) without login_required: 403, not sign-in.
    ("accounts:security-event-list", "GET"): Rule(frozenset({AUDITOR}), NOBODY, "403"),
    ("accounts:audit-log", "GET"): Rule(frozenset({AUDITOR}), NOBODY, LOGIN),
    ("healthz", "GET"): Rule(anonymous=PUBLIC),
    ("readyz", "GET"): Rule(anonymous=PUBLIC),
    # Only with the metrics token or from an allowed address: nobody here has either.
    ("metrics", "GET"): Rule(NOBODY, NOBODY, "403"),
    ("api-schema", "GET"): Rule(ALL_ROLES, ALL_SCOPES, API_AUTH),
    ("api-docs", "GET"): Rule(ALL_ROLES, ALL_SCOPES, API_AUTH),
    # exceptions
    ("exceptions:case-list", "GET"): console(INTERNAL),
    ("exceptions:case-detail", "GET"): console(INTERNAL),
    ("exceptions:case-bulk", "POST"): console(FIN),
    ("exceptions:filter-save", "POST"): console(INTERNAL),
    ("exceptions:filter-delete", "POST"): console(INTERNAL),
    ("exceptions:case-assign", "POST"): console(FIN),
    ("exceptions:case-acknowledge", "POST"): console(FIN),
    ("exceptions:case-resolve", "POST"): console(FIN),
    ("exceptions:case-dismiss", "POST"): console(FIN),
    ("exceptions:case-remediate", "POST"): console(FIN),
    ("exceptions:case-comment", "POST"): console(FIN | CHANNEL),
    # billing
    ("billing:event-list", "GET"): console(INTERNAL),
    ("billing:event-detail", "GET"): console(INTERNAL),
    ("billing:event-replay", "POST"): console(FIN),
    ("billing:event-discard", "POST"): console(FIN),
    ("billing:event-correct", "GET"): console(FIN),
    ("billing:event-correct", "POST"): console(FIN),
    ("billing:invoice-list", "GET"): console(INTERNAL),
    ("billing:invoice-detail", "GET"): console(INTERNAL),
    # erp_sync
    ("erp_sync:rule-list", "GET"): console(INTERNAL),
    ("erp_sync:rule-create", "GET"): console(INTEGRATION),
    ("erp_sync:rule-preview", "GET"): console(INTERNAL),
    ("erp_sync:rule-edit", "GET"): console(INTEGRATION),
    ("erp_sync:rule-detail", "GET"): console(INTERNAL),
    ("erp_sync:lineage", "GET"): console(INTERNAL),
    ("erp_sync:rule-deactivate", "POST"): console(INTEGRATION),
    ("erp_sync:connection-list", "GET"): console(INTERNAL),
    ("erp_sync:connection-create", "GET"): console(INTEGRATION),
    ("erp_sync:connection-detail", "GET"): console(INTERNAL),
    ("erp_sync:connection-edit", "GET"): console(INTEGRATION),
    ("erp_sync:connection-health", "GET"): console(INTERNAL),
    ("erp_sync:connection-pause", "POST"): console(INTEGRATION),
    ("erp_sync:connection-resume", "POST"): console(INTEGRATION),
    ("erp_sync:connection-window-add", "POST"): console(INTEGRATION),
    ("erp_sync:connection-window-remove", "POST"): console(INTEGRATION),
    ("erp_sync:job-list", "GET"): console(INTERNAL),
    ("erp_sync:job-detail", "GET"): console(INTERNAL),
    ("erp_sync:job-replay", "POST"): console(FIN | INTEGRATION),
    ("erp_sync:job-cancel", "POST"): console(FIN),
    ("erp_sync:job-bulk", "POST"): console(FIN | INTEGRATION),
    ("erp_sync:job-bulk-detail", "GET"): console(INTERNAL),
    ("erp_sync:job-bulk-progress", "GET"): console(INTERNAL),
    ("erp_sync:rule-draft-preview", "POST"): console(INTERNAL),
    ("erp_sync:case-jobs-replay", "POST"): console(FIN | INTEGRATION),
    ("erp_sync:closed-period-post", "POST"): console(FIN),
    ("erp_sync:closed-period-wait", "POST"): console(FIN),
    # partners
    ("partners:partner-list", "GET"): console(INTERNAL),
    ("partners:partner-detail", "GET"): console(INTERNAL),
    ("partners:agreement-detail", "GET"): console(INTERNAL),
    ("partners:agreement-version-new", "GET"): console(CHANNEL),
    ("partners:agreement-version-new", "POST"): console(CHANNEL),
    ("partners:attribution-new", "GET"): console(CHANNEL),
    ("partners:attribution-new", "POST"): console(CHANNEL),
    ("partners:attribution-edit", "GET"): console(CHANNEL),
    ("partners:attribution-edit", "POST"): console(CHANNEL),
    ("partners:settlement-list", "GET"): console(ALL_ROLES),
    ("partners:accrual-list", "GET"): console(ALL_ROLES),
    ("partners:settlement-detail", "GET"): console(ALL_ROLES),
    ("partners:statement-page", "GET"): console(ALL_ROLES),
    ("partners:statement-csv", "GET"): console(ALL_ROLES),
    ("partners:statement-pdf", "GET"): console(ALL_ROLES),
    ("partners:settlement-calculate", "POST"): console(CHANNEL),
    ("partners:settlement-submit", "POST"): console(CHANNEL),
    ("partners:settlement-approve", "POST"): console(CHANNEL),
    ("partners:settlement-reject", "POST"): console(CHANNEL),
    # reconciliation
    ("reconciliation:run-list", "GET"): console(INTERNAL),
    ("reconciliation:run-start", "POST"): console(FIN),
    ("reconciliation:run-detail", "GET"): console(INTERNAL),
    ("reconciliation:run-progress", "GET"): console(INTERNAL),
    ("reconciliation:run-breaks", "GET"): console(INTERNAL),
    ("reconciliation:run-break-export", "GET"): console(INTERNAL),
    ("reconciliation:run-matches", "GET"): console(INTERNAL),
    ("reconciliation:run-matches-decide", "POST"): console(FIN),
    ("reconciliation:break-list", "GET"): console(INTERNAL),
    ("reconciliation:break-export", "GET"): console(INTERNAL),
    ("reconciliation:break-detail", "GET"): console(INTERNAL),
    ("reconciliation:break-accept", "POST"): console(FIN),
    ("reconciliation:break-replay", "POST"): console(FIN | INTEGRATION),
    ("reconciliation:kpis", "GET"): console(INTERNAL),
    ("reconciliation:kpi-panel", "GET"): console(INTERNAL),
    ("reconciliation:dashboard", "GET"): console(INTERNAL),
    ("reconciliation:close-checklist", "GET"): console(INTERNAL),
}

# Console routes that show one partner's own data: a partner user asking for another
# partner's object must get 404 (see test_partner_console_other_partners_object_is_404).
# (URL name, method) -> the kwarg that names the object; filled when the partner console lands.
PARTNER_OWN: dict[tuple[str, str], str] = {}

assert PARTNER in ALL_ROLES
