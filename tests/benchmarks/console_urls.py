"""The app's URLs plus bench_console's floor: a minimal view that reads 50 cases with one
indexed query (the queue's order, on its index) into a bare template. Benchmark-only: the
benchmark sets ROOT_URLCONF to this module in its own process.

No login, no permission, no counts, no filters, no base layout: what any page showing 50
rows costs at least in this app (the same middleware, the same database, the same Django).
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns
from exceptions.models import Case

FLOOR_PATH = "bench/floor"
TEMPLATE = engines["django"].from_string(
    "<table>{% for row in rows %}<tr><td>{{ row.id }}</td><td>{{ row.title }}</td>"
    "<td>{{ row.state }}</td><td>{{ row.last_seen_at }}</td></tr>{% endfor %}</table>"
)


def floor(request):
    rows = list(
        Case.objects.order_by("-last_seen_at", "-id").values(
            "id", "title", "state", "last_seen_at"
        )[:50]
    )
    return HttpResponse(TEMPLATE.render({"rows": rows}))


urlpatterns = [path(FLOOR_PATH, floor), *app_urlpatterns]
