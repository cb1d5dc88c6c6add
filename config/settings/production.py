"""Production: PostgreSQL and Redis are required; secure cookies and HSTS."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASE_URL, REDIS_URL, env_bool

if not DATABASE_URL or not REDIS_URL:
    raise RuntimeError("production needs DATABASE_URL and REDIS_URL")
if "DJANGO_SECRET_KEY" not in os.environ:
    raise RuntimeError("production needs DJANGO_SECRET_KEY")

DEBUG = False
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True  # the console sends the token from the page, not the cookie
# /healthz and /readyz answer probes over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False  # only the collected, hashed files
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or str(BASE_DIR / "staticfiles")  # noqa: F405
CONCORD_TWO_FACTOR = env_bool("CONCORD_TWO_FACTOR", True)
