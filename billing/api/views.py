"""Billing API: the event log (ingest, read, replay) and read-only billing records."""

from collections import Counter

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import selectors
from billing.api import serializers
from billing.errors import BillingError
from billing.filters import (
    CreditNoteFilterSet,
    CustomerFilterSet,
    FinanceEventFilterSet,
    InvoiceFilterSet,
    PaymentFilterSet,
    SubscriptionFilterSet,
)
from billing.models import FinanceEvent
from billing.schema import EventSchemaError
from billing.services import (
    event_correct,
    event_ingest,
    event_replay,
    events_ingest_batch,
    events_replay,
)
from config.api.errors import error, error_response
from config.api.pagination import LargeListPagination
from config.api.permissions import allowed_sources, check_sources, may_read

_EVENTS_WRITE = ("billing.add_financeevent", "events:write")
_EVENTS_REPLAY = ("billing.replay_financeevent", "events:write")
_EVENTS_CORRECT = ("billing.correct_financeevent", "events:write")


def _schema_errors(exc: EventSchemaError) -> list[dict]:
    return [error(e.field or None, e.code, e.message) for e in exc.errors]


class FinanceEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The canonical event log. Ingest answers 202 new, 200 duplicate, 409 conflict, 400."""

    queryset = selectors.event_list()
    serializer_class = serializers.FinanceEventSerializer
    filterset_class = FinanceEventFilterSet
    pagination_class = LargeListPagination
    required_permissions = {
        "create": _EVENTS_WRITE,
        "batch": _EVENTS_WRITE,
        "replay": _EVENTS_REPLAY,
        "replay_bulk": _EVENTS_REPLAY,
        "correct": _EVENTS_CORRECT,
    }

    def get_object(self) -> FinanceEvent:
        event = get_object_or_404(
            FinanceEvent, source=self.kwargs["source"], event_id=self.kwargs["event_id"]
        )
        self.check_object_permissions(self.request, event)
        return event

    def retrieve(self, request, source: str, event_id: str):
        serializer = serializers.FinanceEventDetailSerializer(self.get_object())
        return Response(serializer.data)

    def create(self, request):
        check_sources(
            request, [request.data.get("source")] if isinstance(request.data, dict) else []
        )
        try:
            outcome = event_ingest(body=request.data, actor=request.user)
        except EventSchemaError as exc:
            return error_response(_schema_errors(exc), 400)
        return Response(outcome.response, status=outcome.status)

    @action(detail=False, methods=["post"])
    def batch(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return error_response(
                [error("events", "required", 'the body must be {"events": [event, ...]}')], 400
            )
        check_sources(request, [e.get("source") for e in body["events"] if isinstance(e, dict)])
        results = events_ingest_batch(bodies=body["events"], actor=request.user)
        statuses = Counter(result["status"] for result in results)
        states = Counter(result.get("state") for result in results if result["status"] == 202)
        summary = {
            "total": len(results),
            "accepted": statuses[202],
            "duplicate": statuses[200],
            "conflict": statuses[409],
            "invalid": statuses[400],
            "applied": states["applied"],
            "quarantined": states["quarantined"],
        }
        return Response({"results": results, "summary": summary})

    @action(detail=True, methods=["post"])
    def replay(self, request, source: str, event_id: str):
        check_sources(request, [source])
        event = event_replay(event=self.get_object(), actor=request.user)
        if not may_read(request, "billing.view_financeevent"):
            return Response(
                {"source": event.source, "event_id": event.event_id, "state": event.state}
            )
        return Response(serializers.FinanceEventDetailSerializer(event).data)

    @extend_schema(
        request=serializers.EventCorrectionSerializer,
        responses={200: serializers.FinanceEventDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, source: str, event_id: str):
        """Correct a quarantined event and apply the corrected copy (a new event, id
        `<id>~c<n>`); the same correction again answers the same copy. 400 with field paths
        when the corrected event fails the schema; 409 when the event is not quarantined."""
        check_sources(request, [source])
        body = serializers.EventCorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payload = {k: v for k, v in body.validated_data.items() if k != "reason"}
        try:
            copy = event_correct(
                event=self.get_object(),
                payload=payload,
                actor=request.user,
                reason=body.validated_data["reason"],
            )
        except EventSchemaError as exc:
            return error_response(_schema_errors(exc), 400)
        if not may_read(request, "billing.view_financeevent"):
            return Response({"source": copy.source, "event_id": copy.event_id, "state": copy.state})
        return Response(serializers.FinanceEventDetailSerializer(copy).data)

    @extend_schema(operation_id="events_replay_bulk")
    @action(detail=False, methods=["post"], url_path="replay")
    def replay_bulk(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        criteria = body.get("filter")
        if not isinstance(criteria, dict) or not criteria:
            return error_response(
                [error("filter", "required", "give a filter: state, type, entity, source, "
                       "quarantine_reason")],
                400,
            )  # fmt: skip
        allowed = {"state", "type", "entity", "source", "quarantine_reason"}
        unknown = sorted(set(criteria) - allowed)
        if unknown:
            return error_response(
                [
                    error(f"filter.{key}", "unknown_field", f"cannot filter on {key}")
                    for key in unknown
                ],
                400,
            )
        if "source" in criteria:
            listed = criteria["source"]
            check_sources(request, listed if isinstance(listed, list) else [listed])
        data = QueryDict(mutable=True)
        for key, value in criteria.items():
            data.setlist(key, [str(v) for v in value] if isinstance(value, list) else [str(value)])
        filterset = FinanceEventFilterSet(data, queryset=FinanceEvent.objects.all())
        if not filterset.is_valid():
            raise BillingError(
                f"invalid filter: {filterset.errors.as_text()}", code="invalid", field="filter",
                status=400,
            )  # fmt: skip
        events = filterset.qs
        bound = allowed_sources(request)
        if bound is not None:
            events = events.filter(source__in=bound)
        counts = events_replay(events=events, actor=request.user)
        return Response(counts)


class _ReadOnly(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[^/]+"


class CustomerViewSet(_ReadOnly):
    queryset = selectors.customer_list()
    serializer_class = serializers.CustomerSerializer
    filterset_class = CustomerFilterSet
    lookup_field = "customer_id"


class SubscriptionViewSet(_ReadOnly):
    queryset = selectors.subscription_list()
    serializer_class = serializers.SubscriptionSerializer
    filterset_class = SubscriptionFilterSet
    lookup_field = "subscription_id"


class InvoiceViewSet(_ReadOnly):
    queryset = selectors.invoice_list()
    serializer_class = serializers.InvoiceSerializer
    filterset_class = InvoiceFilterSet
    lookup_field = "invoice_id"

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.invoice_detail_queryset()
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.InvoiceDetailSerializer
        return super().get_serializer_class()


class PaymentViewSet(_ReadOnly):
    queryset = selectors.payment_list()
    serializer_class = serializers.PaymentSerializer
    filterset_class = PaymentFilterSet
    lookup_field = "payment_id"


class CreditNoteViewSet(_ReadOnly):
    queryset = selectors.credit_note_list()
    serializer_class = serializers.CreditNoteSerializer
    filterset_class = CreditNoteFilterSet
    lookup_field = "credit_note_id"
