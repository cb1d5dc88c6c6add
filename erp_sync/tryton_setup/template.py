"""The PostgreSQL template database that every Tryton test database is copied from.

Building a Tryton database (module activation + company, chart, fiscal years, taxes) takes
minutes; copying a template takes a fraction of a second. `template_ensure` builds the template
once per machine and is a no-op afterwards. It runs in Concord's interpreter (psycopg only);
Tryton itself runs in `.venv-tryton` as subprocesses (`trytond-admin`, `build_template.py`).

Completeness marker: the template is built under a temporary name and only renamed to its final
name, flagged `IS_TEMPLATE` and commented with `TEMPLATE_VERSION` once every step succeeded, so
a crash half-way never leaves something that looks finished. Bump `TEMPLATE_VERSION` when the
setup changes: the next `template_ensure` rebuilds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_VERSION = "concord-tryton-template v1"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "concord-admin"  # a throw-away local test ERP, never a real one
ADVISORY_LOCK_KEY = 0x7279746F6E  # "tryton": serialises builds across processes
INFO_TABLE = "concord_template_info"


@dataclass(frozen=True)
class TrytonSettings:
    venv: Path
    pg_uri: str  # server URI without a database name, as trytond's [database] uri wants it
    template_db: str
    accounts_file: Path

    @property
    def trytond(self) -> Path:
        return self.venv / "bin" / "trytond"

    @property
    def trytond_admin(self) -> Path:
        return self.venv / "bin" / "trytond-admin"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    built: bool  # False when it already existed
    seconds: float
    accounts_file: Path
    description: dict


def tryton_settings() -> TrytonSettings:
    """Settings from the environment: TRYTON_VENV, TRYTON_PG_URI, TRYTON_TEMPLATE_DB."""
    pg_uri = os.environ.get("TRYTON_PG_URI", "postgresql://postgres@127.0.0.1:5432/")
    return TrytonSettings(
        venv=Path(os.environ.get("TRYTON_VENV", REPO_ROOT / ".venv-tryton")),
        pg_uri=pg_uri if pg_uri.endswith("/") else pg_uri + "/",
        template_db=os.environ.get("TRYTON_TEMPLATE_DB", "concord_tryton_template"),
        accounts_file=REPO_ROOT / "var" / "tryton" / "accounts.json",
    )


def tryton_unavailable_reason(settings: TrytonSettings | None = None) -> str:
    """Why the real Tryton cannot run here ('' when it can)."""
    settings = settings or tryton_settings()
    if not settings.trytond.exists() or not settings.trytond_admin.exists():
        return f"no Tryton virtualenv at {settings.venv} (run `make tryton-env`)"
    try:
        with _connect(settings, "postgres", connect_timeout=3):
            pass
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable at {settings.pg_uri}: {exc}".strip()
    return ""


def template_ensure(
    *, force: bool = False, settings: TrytonSettings | None = None, log: Callable = print
) -> TemplateInfo:
    """Build the template unless a complete one exists (`force` rebuilds). Idempotent.

    Concurrent callers (two test sessions) are serialised by a PostgreSQL advisory lock; the
    second one finds the template complete. Raises RuntimeError when a build step fails.
    """
    settings = settings or tryton_settings()
    started = time.monotonic()
    with _connect(settings, "postgres") as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            built = False
            if force or not _template_complete(settings):
                _build(settings, log)
                built = True
            description = _description(settings)
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    settings.accounts_file.parent.mkdir(parents=True, exist_ok=True)
    settings.accounts_file.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return TemplateInfo(
        name=settings.template_db,
        built=built,
        seconds=time.monotonic() - started,
        accounts_file=settings.accounts_file,
        description=description,
    )


def database_create_from_template(name: str, *, settings: TrytonSettings | None = None) -> None:
    """`CREATE DATABASE name TEMPLATE <template>` (retries while the template is in use)."""
    settings = settings or tryton_settings()
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(settings.template_db)
    )
    for attempt in range(20):
        try:
            with _connect(settings, "postgres") as conn:
                conn.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            # Someone (another session's template check) is connected to the template.
            if attempt == 19:
                raise
            time.sleep(0.25)


def database_drop(name: str, *, settings: TrytonSettings | None = None) -> None:
    settings = settings or tryton_settings()
    with _connect(settings, "postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def trytond_conf_write(directory: Path, *, pg_uri: str, port: int | None = None) -> Path:
    """A minimal trytond.conf: PostgreSQL storage, optional HTTP listener, no queue worker."""
    lines = ["[database]", f"uri = {pg_uri}", f"path = {directory / 'filestore'}", ""]
    if port is not None:
        lines += ["[web]", f"listen = 127.0.0.1:{port}", ""]
    lines += ["[session]", "timeout = 86400", ""]
    path = directory / "trytond.conf"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connect(settings: TrytonSettings, dbname: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(settings.pg_uri + dbname, autocommit=True, **kwargs)


def _template_complete(settings: TrytonSettings) -> bool:
    with _connect(settings, "postgres") as conn:
        row = conn.execute(
            "SELECT datistemplate, shobj_description(oid, 'pg_database')"
            " FROM pg_database WHERE datname = %s",
            (settings.template_db,),
        ).fetchone()
    return bool(row and row[0] and row[1] == TEMPLATE_VERSION)


def _description(settings: TrytonSettings) -> dict:
    with _connect(settings, settings.template_db) as conn:
        row = conn.execute(
            sql.SQL("SELECT value FROM {} WHERE key = 'description'").format(
                sql.Identifier(INFO_TABLE)
            )
        ).fetchone()
    return json.loads(row[0])


def _run(command: list[str], *, env: dict | None = None, timeout: int) -> None:
    result = subprocess.run(  # noqa: S603 - fixed executables from our own virtualenv
        [str(part) for part in command],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed ({result.returncode}):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )


def _build(settings: TrytonSettings, log: Callable) -> None:
    work_db = settings.template_db + "__build"
    database_drop(work_db, settings=settings)
    with _connect(settings, "postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(work_db)))
    with tempfile.TemporaryDirectory(prefix="concord-tryton-") as tmp:
        tmp_path = Path(tmp)
        conf = trytond_conf_write(tmp_path, pg_uri=settings.pg_uri)
        passfile = tmp_path / "admin-password"
        passfile.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
        log(f"trytond-admin: activating account_invoice in {work_db} (about 2 minutes)")
        step = time.monotonic()
        _run(
            [
                settings.trytond_admin,
                "-c",
                conf,
                "-d",
                work_db,
                "--email",
                "admin@example.com",
                "-u",
                "account_invoice",
                "--activate-dependencies",
            ],
            env={"TRYTONPASSFILE": str(passfile)},
            timeout=1800,
        )
        log(f"  done in {time.monotonic() - step:.0f} s; company, chart, fiscal years, taxes")
        step = time.monotonic()
        description_file = tmp_path / "description.json"
        _run(
            [
                settings.python,
                Path(__file__).with_name("build_template.py"),
                "-c",
                conf,
                "-d",
                work_db,
                "--describe-to",
                description_file,
            ],
            # trytond reads its configuration when first imported, before proteus sees it.
            env={"TRYTOND_CONFIG": str(conf)},
            timeout=900,
        )
        description = json.loads(description_file.read_text(encoding="utf-8"))
        log(f"  done in {time.monotonic() - step:.0f} s")
    description["admin_login"] = ADMIN_LOGIN
    description["version"] = TEMPLATE_VERSION
    with _connect(settings, work_db) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(
                sql.Identifier(INFO_TABLE)
            )
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES ('description', %s)").format(sql.Identifier(INFO_TABLE)),
            (json.dumps(description),),
        )
    with _connect(settings, "postgres") as conn:
        existing = sql.Identifier(settings.template_db)
        if conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.template_db,)
        ).fetchone():
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(existing))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(existing))
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(work_db), existing)
        )
        conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(existing))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(existing, sql.Literal(TEMPLATE_VERSION))
        )
    log(f"template {settings.template_db} ready")
