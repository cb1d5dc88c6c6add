"""The production collectstatic starts with the session when its test is selected
(tests/foundation/production.py says why); `collected_static` waits for it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.foundation.production import COLLECTSTATIC, start_production

COLLECT_TEST = "test_production_collects_static_files_under_hashed_compressed_names"
_started: dict = {}  # "process": the background collectstatic, "root": its STATIC_ROOT


def pytest_collection_finish(session):
    if any(item.name == COLLECT_TEST for item in session.items):
        root = Path(tempfile.mkdtemp(prefix="concord-collectstatic-"))
        _started.update(
            root=root, process=start_production(*COLLECTSTATIC, DJANGO_STATIC_ROOT=str(root))
        )


def pytest_unconfigure(config):
    process = _started.pop("process", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.communicate()
    root = _started.pop("root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def collected_static(tmp_path) -> tuple[subprocess.CompletedProcess, Path]:
    """(the finished production collectstatic, its STATIC_ROOT): the one the session started,
    else one run now into tmp_path."""
    if "result" not in _started:
        process = _started.get("process")
        if process is None:
            _started.update(root=tmp_path)
            process = start_production(*COLLECTSTATIC, DJANGO_STATIC_ROOT=str(tmp_path))
        stdout, stderr = process.communicate(timeout=900)
        _started["result"] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return _started["result"], _started["root"]
