"""Test runs: fast hashing, quiet logs; DATABASE_URL / REDIS_URL still honoured."""

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_client": "100000/min"}  # noqa: F405
