"""Concord project configuration: settings, Celery app, middleware, roles, API conventions.

Nothing in this package imports a domain app (billing, partners, erp_sync, reconciliation,
exceptions); the domain apps import from here.
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
