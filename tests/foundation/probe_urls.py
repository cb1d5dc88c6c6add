"""The project's URLs plus one tiny API view, so foundation tests do not depend on domain APIs."""

from django.http import Http404
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class ProbeView(APIView):
    """GET needs `accounts.view_apiclient` (people) or the `read` scope (clients).

    DELETE is declared but not implemented, so an allowed caller gets DRF's 405.
    """

    required_permissions = {
        "get": ("accounts.view_apiclient", "read"),
        "delete": ("accounts.view_apiclient", "read"),
    }

    def get(self, request):
        return Response({"user": request.user.get_username()})


class MissingView(APIView):
    required_permissions = {"get": ("accounts.view_apiclient", "read")}

    def get(self, request):
        raise Http404("no such thing")


urlpatterns = [
    path("api/v1/probe/", ProbeView.as_view()),
    path("api/v1/probe/missing/", MissingView.as_view()),
    *project_urlpatterns,
]
