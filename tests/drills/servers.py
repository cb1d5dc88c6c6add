"""Throw-away servers for the fault drills: a PostgreSQL cluster, Redis servers, gunicorn,
Celery workers and a sweeper loop, each a subprocess a drill may stop, kill or restart.

Nothing here touches the machine's shared PostgreSQL or Redis: each server listens on a free
port of its own, in a temporary directory removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = ""):
    """Poll `predicate` until it returns something true (returned), else AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {message}")
        time.sleep(interval)


def _stop_group(proc: subprocess.Popen | None, *, timeout: float = 15) -> None:
    """SIGTERM a subprocess started in its own session (and its children); SIGKILL if slow."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# Where the subprocesses' logs go: one directory per session (conftest removes it when every
# drill passed, and names it when one failed).
LOG_DIR = Path(tempfile.mkdtemp(prefix="concord-drill-logs-"))


class Logged:
    """A subprocess whose output goes to a log file in LOG_DIR."""

    def __init__(self, prefix: str):
        self.log = Path(tempfile.mkstemp(prefix=f"{prefix}-", suffix=".log", dir=LOG_DIR)[1])
        self.proc: subprocess.Popen | None = None

    def spawn(self, command: list[str], *, env: dict | None = None) -> subprocess.Popen:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.proc

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return self.text()[-chars:]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM the process group without waiting (`stop` waits)."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)


# --- Redis ------------------------------------------------------------------------------------
class RedisServer(Logged):
    """redis-server on a free port, no persistence: a stop loses everything it held."""

    def __init__(self):
        super().__init__("redis")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.spawn(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--maxmemory-policy", "noeviction",
            ]
        )  # fmt: skip
        wait_until(self.answers, timeout=20, message=f"redis on {self.port}:\n{self.tail()}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        _stop_group(self.proc)

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


# --- PostgreSQL ---------------------------------------------------------------------------------
def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries on the machine (Debian layout), or $PG_BIN."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
    return Path(found[-1]).parent


class PostgresCluster:
    """A PostgreSQL cluster made by initdb in a temporary directory, on a free port.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
    and every server command runs through `runuser -u postgres --`. fsync is off: a drill
    restarts the server cleanly (pg_ctl stop -m fast), never the machine.
    """

    def __init__(self):
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="concord-drill-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)

    def init(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        return self.start()

    def start(self) -> PostgresCluster:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w",
                  "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, *, database: str = "postgres", params=None) -> list[tuple]:
        """Run one statement in autocommit; its rows (empty for none)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


# --- Django processes ----------------------------------------------------------------------------
class DjangoProcess(Logged):
    """A Concord process (gunicorn, a worker, the sweeper) with a drill environment."""

    def __init__(self, prefix: str, env: dict):
        super().__init__(prefix)
        self.env = env

    def stop(self, timeout: float = 15) -> None:
        _stop_group(self.proc, timeout=timeout)

    def kill(self) -> None:
        if self.running():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class AppServer(DjangoProcess):
    """The Concord web app under gunicorn (the production server), on a free port."""

    def __init__(self, env: dict, *, workers: int = 2, threads: int = 4):
        super().__init__("gunicorn", env)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads

    def start(self, timeout: float = 60) -> AppServer:
        self.spawn(
            [
                str(BIN / "gunicorn"), "config.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--timeout", "60", "--graceful-timeout", "5",
            ],
            env=self.env,
        )  # fmt: skip

        def up() -> bool:
            if not self.running():
                raise AssertionError(f"gunicorn exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as answer:
                    return answer.status == 200
            except (OSError, urllib.error.URLError):
                return False

        wait_until(up, timeout=timeout, interval=0.3, message=f"gunicorn:\n{self.tail()}")
        return self


class Worker(DjangoProcess):
    """`celery -A config worker -Q erp` (prefork), ready when it logs " ready."."""

    def __init__(self, env: dict, *, concurrency: int = 2, name: str = "drill"):
        super().__init__("worker", env)
        self.concurrency = concurrency
        self.name = name

    def start(self, *, wait: bool = True, timeout: float = 60) -> Worker:
        self.spawn(
            [
                str(BIN / "celery"), "-A", "config", "worker", "-Q", "erp",
                "-c", str(self.concurrency), "--pool", "prefork", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"{self.name}-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            env=self.env,
        )  # fmt: skip
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if not self.running():
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            return " ready." in self.text()

        wait_until(ready, timeout=timeout, interval=0.2, message=f"worker:\n{self.tail()}")

    def terminate_group(self) -> None:
        """SIGTERM to the worker and its pool processes at once, as systemd's default
        KillMode=control-group does: the main process starts a warm shutdown, but the pool
        processes die in the middle of their tasks."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)

    def warm_shutdown(self) -> None:
        """SIGTERM to the worker's main process only: Celery's warm shutdown (finish the
        tasks running, hand the rest back to the broker)."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGTERM)


class Supervised:
    """Keeps a worker running as systemd's `Restart=always` would: a worker that exits by
    itself is started again after `delay` seconds; `restarts` counts them."""

    def __init__(self, worker: Worker, *, delay: float = 1.0):
        self.worker = worker
        self.delay = delay
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Supervised:
        self.worker.start()
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            if not self.worker.running():
                time.sleep(self.delay)
                if self._stopping.is_set():
                    return
                self.restarts += 1
                self.worker.start(wait=False)

    def terminate(self) -> None:
        self._stopping.set()
        self.worker.terminate()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.worker.stop()


class Sweeper(DjangoProcess):
    """tests/drills/sweeper_loop.py: a sweeper pass every `interval` seconds (beat's job)."""

    def __init__(self, env: dict, *, interval: float = 1.0):
        super().__init__("sweeper", env)
        self.interval = interval

    def start(self) -> Sweeper:
        self.spawn(
            [sys.executable, "-m", "tests.drills.sweeper_loop", str(self.interval)], env=self.env
        )
        return self

    def passes(self) -> list[dict]:
        out = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out
