"""The guides erp_sync gives on its cases grouped by cause (exceptions.remediation.CaseGuide):
one function per case kind, each in its own module, with its template under
templates/erp_sync/guides/."""
