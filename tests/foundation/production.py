"""Running Concord under config.settings.production in a subprocess (test_deployment.py).

`collectstatic` under the production storage (hashed names, gzip and brotli copies of every
file, Django admin's and the API docs' bundles and maps included) costs about a minute of
one core, nearly all of it compressing. tests/foundation/conftest.py starts it when the
session starts, if the test that reads it is selected, at the lowest CPU priority, so it
takes the time the suite spends waiting on browsers, workers and Tryton; the test then
waits for it and checks what it wrote exactly as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": "postgres://ci@127.0.0.1:5432/ci_dummy",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_SECRET_KEY": "ci-dummy-secret-key-k3Jd9sLq0wPz7XvB2nMc5RtY8uHa1GfE4iOp6",
    "DJANGO_ALLOWED_HOSTS": "concord.example.com",
}
COLLECTSTATIC = ("manage.py", "collectstatic", "--noinput", "-v0")


def production_env(**env: str) -> dict[str, str]:
    full_env = {**os.environ, **PRODUCTION_ENV, **env}
    full_env.pop("CACHE_URL", None)
    return full_env


def run_production(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=production_env(**env), capture_output=True, text=True, cwd=ROOT
    )


def start_production(*args: str, **env: str) -> subprocess.Popen:
    """The same as run_production, started in the background at the lowest CPU priority (it
    takes the time the suite leaves idle: nice 19); communicate() for the result."""
    nice = [shutil.which("nice"), "-n", "19"] if shutil.which("nice") else []
    return subprocess.Popen(
        [*nice, sys.executable, *args],
        env=production_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
