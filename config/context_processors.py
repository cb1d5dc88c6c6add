"""Console navigation: each entry is shown only to a user holding its permission."""

from django.urls import NoReverseMatch, reverse

NAVIGATION = (
    ("Dashboard", "console-home", None),
    ("Exceptions", "exceptions:case-list", "exceptions.view_case"),
    ("Events", "billing:event-list", "billing.view_financeevent"),
    ("Invoices", "billing:invoice-list", "billing.view_invoice"),
    ("Sync jobs", "erp_sync:job-list", "erp_sync.view_syncjob"),
    ("Connections", "erp_sync:connection-list", "erp_sync.view_connection"),
    ("Mapping rules", "erp_sync:rule-list", "erp_sync.view_mappingrule"),
    ("Partners", "partners:partner-list", "partners.view_partner"),
    ("Settlements", "partners:settlement-list", "partners.view_own_statements"),
    ("Accruals", "partners:accrual-list", "partners.view_own_statements"),
    ("Reconciliation runs", "reconciliation:run-list", "reconciliation.view_reconciliationrun"),
    ("Security events", "accounts:security-event-list", "accounts.view_securityevent"),
    ("Audit log", "accounts:audit-log", "accounts.view_securityevent"),
    ("API docs", "api-docs", None),
)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    items = []
    for label, url_name, permission in NAVIGATION:
        if permission and not user.has_perm(permission):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue  # the page belongs to a capability not built yet
        items.append({"label": label, "url": url, "active": request.path == url})
    return {"navigation": items}
