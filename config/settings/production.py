"""Production: PostgreSQL and Redis are required; secure cookies and HSTS."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASE_URL, REDIS_URL, env_bool

if not DATABASE_URL or not REDIS_URL:
    raise RuntimeError("production needs DATABASE_URL and REDIS_URL")
if "DJANGO_SECRET_KEY" not in os.environ:
    raise RuntimeError("production needs DJANGO_SECRET_KEY")

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_CONTENT_TYPE_NOSNIFF = True
CONCORD_TWO_FACTOR = env_bool("CONCORD_TWO_FACTOR", True)
