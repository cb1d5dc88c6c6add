"""Throttling per API client: each client has its own bucket and may have its own rate."""

from rest_framework.throttling import SimpleRateThrottle

from config.accounts.models import ApiClient


class ApiClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"

    def allow_request(self, request, view):
        client = request.auth
        if not isinstance(client, ApiClient):
            return True  # people in the console are not throttled here
        if client.throttle_rate:
            self.rate = client.throttle_rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
