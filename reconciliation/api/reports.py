"""Read-only reports of the reconciliation API: the KPIs and the close checklist of one
legal entity and period. Each view parses its query and calls one selector."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from reconciliation.api.serializers import EntityPeriodQuerySerializer
from reconciliation.close import close_checklist
from reconciliation.kpis import jsonable, kpis

REPORT_READ = ("reconciliation.view_reconciliationrun", "read")
PERIOD_PARAMETERS = [
    OpenApiParameter("entity", str, required=True, description="Legal entity code"),
    OpenApiParameter("period", str, description="YYYY-MM (default: the previous month)"),
    OpenApiParameter("period_start", OpenApiTypes.DATE),
    OpenApiParameter("period_end", OpenApiTypes.DATE),
]


def _query(request) -> dict:
    serializer = EntityPeriodQuerySerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class KpiView(APIView):
    """The finance KPIs of one entity and period. Money is per currency as decimal
    strings; shares are fractions 0..1 (null when there is nothing to divide); durations
    are seconds."""

    required_permissions = {"get": REPORT_READ}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(jsonable(kpis(**_query(request))))


def checklist_data(checklist, request=None) -> dict:
    def absolute(url: str) -> str:
        return request.build_absolute_uri(url) if (request is not None and url) else url

    return {
        "entity": checklist.entity.code,
        "period_start": str(checklist.period.start),
        "period_end": str(checklist.period.end),
        "ok": checklist.ok,
        "blocking": checklist.blocking,
        "items": [
            {
                "key": item.key,
                "label": item.label,
                "ok": item.ok,
                "count": item.count,
                "url": absolute(item.url),
                "records": [{"label": r["label"], "url": absolute(r["url"])} for r in item.records],
            }
            for item in checklist.items
        ],
    }


class CloseChecklistView(APIView):
    """The close checklist of one entity and period: each item with its blocking count,
    a link to the blocking records and the first few of them."""

    required_permissions = {"get": REPORT_READ}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(checklist_data(close_checklist(**_query(request)), request))
