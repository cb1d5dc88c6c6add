"""Event handlers: one per canonical event type, found through a registry.

A handler is `handle(event, envelope, actor) -> dict`: it applies a well-formed event to the
records (creating or changing them, each with a history row naming the actor and the reason
"event <type> <source>/<id>") and returns a summary of the records it touched, e.g.
``{"invoice": "inv_1"}``. When the event is well-formed but cannot be applied it raises
`billing.errors.QuarantineError`; the ingest service runs every handler in a savepoint, so a
refused event leaves no trace in the records.

Billing registers its own handlers in `BillingConfig.ready` (modules `master_data`,
`subscriptions`, `invoices`, `payments`). A higher layer that owns a type registers its
handler from its own AppConfig.ready (partners registers `partner.upserted`).
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

Handler = Callable[..., dict]

_HANDLERS: dict[str, Handler] = {}


def register(event_type: str) -> Callable[[Handler], Handler]:
    """Decorator: make `handler` the one that applies events of `event_type`."""

    def decorate(handler: Handler) -> Handler:
        existing = _HANDLERS.get(event_type)
        if existing is not None and existing is not handler:
            raise ImproperlyConfigured(f"a handler for {event_type!r} is already registered")
        _HANDLERS[event_type] = handler
        return handler

    return decorate


def handler_for(event_type: str) -> Handler:
    """The handler registered for `event_type`. Raises LookupError when there is none."""
    try:
        return _HANDLERS[event_type]
    except KeyError:
        raise LookupError(f"no handler is registered for event type {event_type!r}") from None
