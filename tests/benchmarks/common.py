"""What every benchmark needs: a throw-away PostgreSQL database, the app under gunicorn,
CPU accounting per process group, the scale knob and the one machine-readable result line.

A benchmark module is `tests/benchmarks/bench_<name>.py`, runnable on its own as
`python -m tests.benchmarks.bench_<name>`; `tests.benchmarks.run` runs each in its own
process. Its last line is the one `bench_line(...)` prints:

    BENCH <name> <value> <unit> ratio=<r> target=<t> [key=value ...]

where `ratio` compares the measured value with a baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(message: str = "") -> None:
    """Print a human-readable line at once (the runner streams our output)."""
    print(message, flush=True)


def scale() -> float:
    """BENCH_SCALE (default 1): multiplies every benchmark's size; 0.1 is a quick run."""
    raw = os.environ.get("BENCH_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"BENCH_SCALE must be a number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"BENCH_SCALE must be greater than 0, not {raw!r}")
    return value


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def bench_line(
    name: str, value: object, unit: str, ratio: float, target: float, **extra: object
) -> str:
    """Print (and return) the benchmark's one machine-readable line; call it last."""
    parts = [f"BENCH {name} {_format(value)} {unit} ratio={ratio:.3f} target={_format(target)}"]
    parts += [f"{key}={_format(val)}" for key, val in extra.items()]
    line = " ".join(parts)
    say(line)
    return line


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass
class BenchDatabase:
    """A fresh database `concord_bench_<pid>`, dropped on exit unless BENCH_KEEP_DB=1."""

    name: str = field(default_factory=lambda: f"concord_bench_{os.getpid()}")

    @property
    def url(self) -> str:
        return f"{PG_ADMIN_URL}/{self.name}"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def create(self) -> None:
        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if os.environ.get("BENCH_KEEP_DB") == "1":
            say(f"BENCH_KEEP_DB=1: keeping database {self.name}")
            return
        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """Create the database, run the migrations into it, drop it at the end (even on error)."""
    database = BenchDatabase()
    database.create()
    try:
        migrate(database.url)
        yield database
    finally:
        database.drop()


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of every Django process of a benchmark.

    config.settings.local with DEBUG off and WARNING logs; no REDIS_URL, so Celery runs
    eagerly. The per-client throttle is lifted: a benchmark measures the app, not the limit.
    """
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        API_CLIENT_RATE="1000000/min",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], attempts: int = 1) -> str:
    """Run `manage.py <args>`; return its stdout. Retries (other people's half-written code
    can break imports for a minute); raises RuntimeError with the output when it keeps failing.
    """
    command = [sys.executable, str(REPO_ROOT / "manage.py"), *args]
    for attempt in range(1, attempts + 1):
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return done.stdout
        if attempt < attempts:
            say(f"  manage.py {args[0]} failed (attempt {attempt}); retrying in 30 s")
            time.sleep(30)
    raise RuntimeError(
        f"manage.py {' '.join(args)[:80]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def migrate(database_url: str) -> None:
    manage("migrate", "--noinput", env=django_env(database_url), attempts=3)


def django_shell(code: str, *, database_url: str) -> str:
    """Run Python `code` in `manage.py shell`; return what it printed."""
    return manage("shell", "--no-imports", "-c", code, env=django_env(database_url))


# ---------------------------------------------------------------------------------------------
# gunicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn config.wsgi -w <workers>` on a free local port, against `database_url`."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        log_path: Path | None = None,
        settings_module: str | None = None,
    ):
        self.database_url = database_url
        self.workers = workers
        # A benchmark may serve the app under its own settings (e.g. an extra baseline URL).
        self.settings_module = settings_module
        self.port = free_port()
        self.log_path = log_path or Path(f"/tmp/concord_bench_gunicorn_{os.getpid()}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        command = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=django_env(self.database_url, **self._settings_env()),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log_tail()}")
            # Wait for every worker to boot, so none boots inside the timed window.
            if self._healthy() and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout:.0f} s")

    def _settings_env(self) -> dict[str, str]:
        if self.settings_module is None:
            return {}
        return {"DJANGO_SETTINGS_MODULE": self.settings_module}

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return children_of(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def count_in_log(self, text: str) -> int:
        """How many lines of the server log contain `text`."""
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(text in line for line in log.splitlines())

    def first_error(self) -> str:
        """The last line of the first traceback the server logged ('' when none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        for line in text.splitlines():
            if "Traceback" not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return line[-500:]
            return str(record.get("exc_info", "")).strip().splitlines()[-1]
        return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if exc_info[0] is not None:
            say(f"gunicorn log kept at {self.log_path}")

    def discard_log(self) -> None:
        """Delete the server log (a benchmark does so when the run went well)."""
        with contextlib.suppress(OSError):
            self.log_path.unlink()


# ---------------------------------------------------------------------------------------------
# CPU accounting from /proc


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used: utime + stime) of a live process, else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[0] == parent:
                pids.append(int(entry))
    return pids


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


class CpuSampler:
    """CPU seconds used during a window, per process group, sampled from /proc.

    Groups: `web` (the gunicorn master and its workers), `db` (PostgreSQL backends serving
    `database_name`), `db_other` (every other postgres process: background writer, WAL
    writer, checkpointer, other people's sessions), `client` (this process) and `machine`
    (all cores; `other` = machine minus the rest). Processes come and go (Django closes a
    connection after CONN_MAX_AGE), so a thread re-reads /proc every `interval` seconds
    and keeps each pid's last value; at most `interval` of a process's last CPU is missed.
    """

    def __init__(self, *, gunicorn_pid: int, database_name: str, interval: float = 0.25):
        self.gunicorn_pid = gunicorn_pid
        self.database_name = database_name
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._group: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _classify(self, pid: int, ppid: int) -> str | None:
        if pid == os.getpid():
            return "client"
        if pid == self.gunicorn_pid or ppid == self.gunicorn_pid:
            return "web"
        command = _cmdline(pid)
        if command.startswith("postgres"):
            return "db" if f" {self.database_name} " in command else "db_other"
        return None

    def _sample(self, *, baseline: bool) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            stat = _stat(pid)
            if stat is None:
                continue
            ppid, seconds = stat
            if pid not in self._group:
                group = self._classify(pid, ppid)
                if group is None:
                    continue
                self._group[pid] = group
                # A process first seen after the start used all its CPU inside the window.
                self._first[pid] = seconds if baseline else 0.0
            self._last[pid] = seconds

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(baseline=False)

    def start(self) -> None:
        self._machine_start = _machine_busy_seconds()
        self._wall_start = time.monotonic()
        self._sample(baseline=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group, plus `wall` seconds and `cores`."""
        self._stop.set()
        self._thread.join()
        self._sample(baseline=False)
        wall = time.monotonic() - self._wall_start
        busy_end, _ = _machine_busy_seconds()
        used = {"web": 0.0, "db": 0.0, "db_other": 0.0, "client": 0.0}
        for pid, group in self._group.items():
            used[group] += self._last[pid] - self._first[pid]
        measured = sum(used.values())
        used["machine"] = busy_end - self._machine_start[0]
        used["other"] = max(0.0, used["machine"] - measured)
        used["wall"] = wall
        used["cores"] = float(os.cpu_count() or 1)
        return used


def cpu_report(used: dict[str, float]) -> list[str]:
    """Lines saying where the CPU went, e.g. 'web workers  1.85 cores (92% of 2 cores)'."""
    wall = used["wall"] or 1e-9
    cores = used["cores"]
    labels = {
        "web": "gunicorn (master + workers)",
        "db": "PostgreSQL backends of this database",
        "db_other": "other postgres processes (WAL writer, checkpointer, other sessions)",
        "client": "benchmark client (this process)",
        "other": "everything else on the machine",
        "machine": "machine total",
    }
    lines = []
    for group, label in labels.items():
        in_cores = used[group] / wall
        lines.append(
            f"  {label:<70} {used[group]:8.1f} s CPU = {in_cores:4.2f} cores "
            f"({100 * in_cores / cores:3.0f}% of {cores:.0f})"
        )
    return lines
