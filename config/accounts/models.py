"""People and machines that act in Concord.

`User` is the custom user model (from the first migration). A partner portal user carries
the source-system id of its partner in `partner_code` (a string, not a foreign key: the
partners app sits above this one). An `ApiClient` is a machine caller: a hashed bearer
token (djangorestframework-api-key), its scopes and throttle rate, the event sources it may
write (`sources`; "*" for all) and a service user so that history rows name the client as the
actor.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

API_SCOPES = {
    "events:write": "ingest and replay finance events",
    "read": "read every resource",
    "settlements:write": "calculate, submit, approve and reject settlements",
    "sync:write": "replay and cancel ERP sync jobs",
    "mapping:write": "create and preview ERP mapping rules",
    "cases:write": "acknowledge, resolve, dismiss and comment on cases",
    "recon:write": "start reconciliation runs",
}
ALL_SOURCES = "*"


class User(AbstractUser):
    """A person (or, with `is_api_client`, the service identity of an API client)."""

    partner_code = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="For partner portal users: the partner_id whose statements they may read.",
    )
    is_api_client = models.BooleanField(default=False)

    class Meta:
        db_table = "accounts_user"

    @property
    def role_names(self) -> list[str]:
        return sorted(group.name for group in self.groups.all())


class ApiClient(AbstractAPIKey):
    """A machine client. Only the hash of its token is stored; revoking takes effect at once."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="api_client")
    scopes = models.JSONField(default=list)
    throttle_rate = models.CharField(
        max_length=32, blank=True, default="", help_text='e.g. "600/min"; blank = default.'
    )
    sources = models.JSONField(
        default=list,
        blank=True,
        help_text='Event sources this client may ingest and replay; ["*"] for all, [] for none.',
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API client"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def allows_source(self, source: str) -> bool:
        return ALL_SOURCES in self.sources or source in self.sources
