from rest_framework.permissions import IsAuthenticated


class SchemaPermissionMixin:
    """The schema and docs are for any signed-in person or any API client."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self):
        from rest_framework.settings import api_settings

        return [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
