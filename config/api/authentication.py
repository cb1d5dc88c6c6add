"""`Authorization: Bearer <token>` for API clients (tokens stored hashed)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.accounts.models import ApiClient


class ApiClientAuthentication(authentication.BaseAuthentication):
    """Authenticates a machine client; request.user is its service user, request.auth the client."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, token = header.partition(" ")
        if keyword != self.keyword:
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("empty bearer token")
        try:
            client = ApiClient.objects.get_from_key(token)
        except ApiClient.DoesNotExist:
            raise exceptions.AuthenticationFailed("invalid or revoked API token") from None
        if client.has_expired:
            raise exceptions.AuthenticationFailed("expired API token")
        return client.user, client

    def authenticate_header(self, request):
        return self.keyword


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = ApiClientAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token from `manage.py create_api_client`.",
        }
