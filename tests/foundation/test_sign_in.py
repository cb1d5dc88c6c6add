"""Sign-in: lock-out after repeated failures, idle sessions end, password rules, TOTP."""

import datetime as dt
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # the make_user fixture's


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


# --- lock-out (django-axes) -------------------------------------------------------------------


def test_sign_in_with_the_right_password_reaches_the_console(client, make_user):
    make_user("ann", "auditor")

    assert sign_in(client, "ann").status_code == 302
    assert client.get("/").status_code == 200


def test_sign_in_after_the_failure_limit_is_locked_even_with_the_right_password(client, make_user):
    make_user("ann", "auditor")
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "ann", "wrong-password").status_code == 200
    assert sign_in(client, "ann", "wrong-password").status_code == 429  # the limit-th locks

    response = sign_in(client, "ann")

    assert response.status_code == 429
    assert b"Account locked" in response.content
    assert client.get("/").status_code == 302  # not signed in


def test_sign_in_below_the_failure_limit_still_accepts_the_right_password(client, make_user):
    make_user("ann", "auditor")
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "ann", "wrong-password")

    assert sign_in(client, "ann").status_code == 302


# --- idle sessions ----------------------------------------------------------------------------


def test_session_ends_after_the_idle_time_and_activity_keeps_it_alive(client, make_user):
    make_user("ann", "auditor")
    sign_in(client, "ann")
    idle = dt.timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    start = timezone.now()

    with mock.patch("django.utils.timezone.now", return_value=start + idle * 0.7):
        assert client.get("/").status_code == 200  # activity moves the expiry on
    with mock.patch("django.utils.timezone.now", return_value=start + idle * 1.4):
        assert client.get("/").status_code == 200  # 0.7 idle since the last request
    with mock.patch("django.utils.timezone.now", return_value=start + idle * 2.5):
        response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_idle_timeout_defaults_to_30_minutes():
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True


# --- password validators ----------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["short1", "password1234", "123456789012", "annann-annann"])
def test_password_change_to_a_weak_password_is_refused(client, make_user, weak):
    user = make_user("annann-annann", "auditor")
    client.force_login(user)

    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
    )

    assert response.status_code == 200
    assert b'data-testid="error-new_password2"' in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_to_a_strong_password_is_stored(client, make_user):
    user = make_user("ann", "auditor")
    client.force_login(user)
    strong = "lantern-quarry-orbit-57"

    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": strong, "new_password2": strong},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(strong)


# --- two-factor (django-otp) ------------------------------------------------------------------


def enrol(client) -> TOTPDevice:
    """Walk the set-up page as the signed-in person; return the confirmed device."""
    page = client.get("/accounts/two-factor/setup/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(confirmed=False)
    response = client.post("/accounts/two-factor/setup/", {"token": code(device), "next": "/"})
    assert response.status_code == 302, response.content
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_two_factor_on_makes_an_erp_configurer_enrol_before_the_console(
    client, make_user, settings
):
    settings.CONCORD_TWO_FACTOR = True
    make_user("ida", "integration_admin")
    sign_in(client, "ida")

    response = client.get("/billing/events/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/setup/")
    assert client.get("/api/v1/events").status_code == 403
    enrol(client)
    assert client.get("/").status_code == 200


def test_two_factor_on_asks_an_enrolled_erp_configurer_for_a_code_at_sign_in(
    client, make_user, settings
):
    settings.CONCORD_TWO_FACTOR = True
    make_user("ida", "integration_admin")
    sign_in(client, "ida")
    device = enrol(client)
    client.post("/accounts/logout/")

    sign_in(client, "ida")
    assert client.get("/")["Location"].startswith("/accounts/two-factor/")
    wrong = client.post("/accounts/two-factor/", {"token": "000000", "next": "/"})
    assert wrong.status_code == 400
    assert client.get("/").status_code == 302
    # A failure throttles the device for a second or more (django-otp); wait it out.
    later = timezone.now() + dt.timedelta(seconds=10)
    with mock.patch("django.utils.timezone.now", return_value=later):
        right = client.post("/accounts/two-factor/", {"token": code(device, 1), "next": "/"})

    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_two_factor_on_is_optional_for_an_auditor(client, make_user, settings):
    settings.CONCORD_TWO_FACTOR = True
    make_user("ann", "auditor")
    sign_in(client, "ann")

    assert client.get("/").status_code == 200
    enrol(client)  # may still enrol; then the code is asked at the next sign-in
    client.post("/accounts/logout/")
    sign_in(client, "ann")
    assert client.get("/").status_code == 302


def test_two_factor_off_in_demo_and_tests_lets_an_erp_configurer_in(client, make_user):
    assert django_settings.CONCORD_TWO_FACTOR is False
    make_user("ida", "integration_admin")
    sign_in(client, "ida")

    assert client.get("/").status_code == 200


def production_setting(name: str, **env) -> str:
    base = {
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SECRET_KEY": "x" * 60,
    }
    env = {**{k: v for k, v in os.environ.items() if k != "CONCORD_TWO_FACTOR"}, **base, **env}
    program = f"import config.settings.production as p; print(repr(p.{name}))"
    return subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_production_turns_two_factor_on_and_ends_idle_sessions_after_30_minutes():
    assert production_setting("CONCORD_TWO_FACTOR") == "True"
    assert production_setting("SESSION_COOKIE_AGE") == "1800"
