"""Fixtures shared by every test module: people in each role and API clients with scopes."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from config.accounts.services import api_client_create
from config.roles import ROLES

REQUIRE_ALL = os.environ.get("CONCORD_REQUIRE_ALL") == "1"
# The fault drills start and stop their own servers for minutes: `make drills` runs them.
collect_ignore = [] if os.environ.get("CONCORD_DRILLS") == "1" else ["drills"]


def pytest_collection_modifyitems(config, items):
    """Skip what this machine cannot run, unless CI asked for everything (then fail instead)."""
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    reasons = {
        "postgres": None if on_postgres else "needs DATABASE_URL=postgres://...",
        "redis": None if settings.REDIS_URL else "needs REDIS_URL=redis://...",
        "browser": None
        if Path("/usr/bin/chromium").exists()
        else "needs /usr/bin/chromium (apt-get install chromium)",
        "tryton": None
        if (Path(settings.BASE_DIR) / ".venv-tryton" / "bin" / "trytond").exists()
        else "needs .venv-tryton (make tryton-env)",
    }
    missing = set()
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                missing.add(f"{marker}: {reason}")
                item.add_marker(pytest.mark.skip(reason=reason))
    if REQUIRE_ALL and missing:
        # CI must run everything: a missing service is an error, not a skip.
        raise pytest.UsageError("CONCORD_REQUIRE_ALL=1 but " + "; ".join(sorted(missing)))


@pytest.fixture(scope="session", autouse=True)
def _faster_database_setup_and_flush():
    """Before any database fixture: the test database's migrations without django-fsm's
    receivers on historical models (tests/fsm_migrations.py), and transactional tests' flush
    by DELETE rather than TRUNCATE on PostgreSQL (tests/postgres_flush.py)."""
    from django.db.backends.postgresql.operations import DatabaseOperations
    from django_fsm import FSMFieldMixin

    from tests.fsm_migrations import contribute_to_class
    from tests.postgres_flush import delete_flush

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FSMFieldMixin, "contribute_to_class", contribute_to_class)
        patch.setattr(DatabaseOperations, "sql_flush", delete_flush)
        yield


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, *roles: str, **fields):
        user = django_user_model.objects.create_user(
            username=username, password="correct-horse-battery", **fields
        )
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def role_users(make_user) -> dict:
    return {role: make_user(f"{role}-user", role) for role in ROLES}


@pytest.fixture
def api_for_role(role_users):
    """An APIClient signed in as a person holding one role."""

    def client(role: str) -> APIClient:
        api = APIClient()
        api.force_authenticate(role_users[role])
        return api

    return client


@pytest.fixture
def api_with_scopes(db):
    """An APIClient authenticating with a real bearer token holding the given scopes."""
    counter = iter(range(10_000))

    def client(*scopes: str, rate: str = "", sources=("*",)) -> APIClient:
        _, token = api_client_create(
            name=f"client-{next(counter)}",
            scopes=list(scopes),
            sources=list(sources),
            throttle_rate=rate,
        )
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return api

    return client
