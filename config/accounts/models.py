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
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text='IANA name ("Europe/Berlin") the console shows times in; blank: the site\'s.',
    )

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


class SecurityEventKind(models.TextChoices):
    SIGNIN_SUCCEEDED = "signin_succeeded", "sign-in succeeded"
    SIGNIN_FAILED = "signin_failed", "sign-in failed"
    LOCKED_OUT = "locked_out", "locked out"
    API_CLIENT_CREATED = "api_client_created", "API client created"
    API_CLIENT_REVOKED = "api_client_revoked", "API client revoked"
    ROLES_CHANGED = "roles_changed", "roles changed"
    PERMISSIONS_CHANGED = "permissions_changed", "permissions changed"
    PERMISSION_DENIED = "permission_denied", "permission denied (403)"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are append-only")


class SecurityEvent(models.Model):
    """One security-relevant happening. Append-only: written once, never changed or deleted.

    `username` keeps the name tried even when no such user exists (a failed sign-in).
    """

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=32, choices=SecurityEventKind.choices, db_index=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=10, blank=True, default="")
    path = models.CharField(max_length=500, blank=True, default="")
    correlation_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("SecurityEvent rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("SecurityEvent rows are append-only")
