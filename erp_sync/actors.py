"""The identity Celery tasks and the sweeper act as in history rows."""

from django.contrib.auth import get_user_model

SYSTEM_USERNAME = "system:erp-sync"

# Set in Celery worker processes (erp_sync.tasks connects worker_init): only there is the
# user object kept between tasks.
_state: dict[str, object] = {"in_worker": False}


def mark_worker_process(**kwargs) -> None:
    _state["in_worker"] = True


def system_actor():
    """The "system:erp-sync" user (created on first use; it cannot sign in).

    Elsewhere than in a worker, only the user's pk is cached (a database may be rolled back
    or flushed under it): the user is read by pk, and looked up or created again when gone.
    """
    if _state["in_worker"] and "user" in _state:
        return _state["user"]
    model = get_user_model()
    pk = _state.get("pk")
    if pk is not None:
        user = model.objects.filter(pk=pk, username=SYSTEM_USERNAME).first()
        if user is not None:
            return user
    user, created = model.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    _state["pk"] = user.pk
    if _state["in_worker"]:
        _state["user"] = user
    return user
