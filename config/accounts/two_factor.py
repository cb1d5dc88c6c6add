"""Who must sign in with a second factor (TOTP, django-otp), and the steps to get there.

With `CONCORD_TWO_FACTOR` on, a person holding any of `CONCORD_TWO_FACTOR_PERMISSIONS`
(approving settlements, configuring ERP connections and mapping rules) must enrol a TOTP
device and verify a code at every sign-in; anyone else who enrolled verifies too, and may
enrol at will. With it off (the demo, the tests), nobody is asked.
"""

from django.conf import settings
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator app"


def two_factor_required(user) -> bool:
    return any(user.has_perm(code) for code in settings.CONCORD_TWO_FACTOR_PERMISSIONS)


def two_factor_step(user) -> str | None:
    """ "verify", "setup" or None: what a signed-in, not yet verified person must do next."""
    if not settings.CONCORD_TWO_FACTOR or not user.is_authenticated or user.is_verified():
        return None
    if user_has_device(user):
        return "verify"
    return "setup" if two_factor_required(user) else None


def totp_device_pending(*, user) -> TOTPDevice:
    """The person's unconfirmed TOTP device, made on first use (its key is shown once)."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm an enrolment with a first code from the app; False when the code is wrong."""
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True
