"""A real Tryton server for the adapter tests: one fresh database per test session.

The database is a copy of the template `manage.py tryton_template` builds (built here on first
use, ~1-2 min once per machine); the copy takes a fraction of a second and trytond starts in a
few seconds. Without .venv-tryton or PostgreSQL the tests are skipped, or fail when
CONCORD_REQUIRE_ALL=1.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from erp_sync.adapters.base import DocumentLine, ErpDocument, ErpError, Party
from erp_sync.adapters.jsonrpc import TrytonRpc
from erp_sync.adapters.tryton import TrytonAdapter
from erp_sync.tryton_setup.template import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    database_create_from_template,
    database_drop,
    free_port,
    template_ensure,
    tryton_settings,
    tryton_unavailable_reason,
    trytond_conf_write,
)

REQUIRE_ALL = os.environ.get("CONCORD_REQUIRE_ALL") == "1"
# Account codes of the Universal Chart of Accounts (see var/tryton/accounts.json).
RECEIVABLE = "1.2.1"
REVENUE = "4.2.2"  # Services (recognized over time)
CASH = "1.1.1"
BAD_DEBT = "5.2.3"
SALES_TAX = "US-SALES-10"


@dataclass
class TrytonServer:
    url: str
    database: str
    login: str
    password: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    conf: Path | None = None
    extra: dict = field(default_factory=dict)

    def adapter(self, **kwargs) -> TrytonAdapter:
        return TrytonAdapter(self.url, self.database, self.login, self.password, **kwargs)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _start_trytond(database: str, directory: Path) -> TrytonServer:
    settings = tryton_settings()
    port = free_port()
    conf = trytond_conf_write(directory, pg_uri=settings.pg_uri, port=port)
    log_path = directory / f"trytond-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(settings.trytond), "-c", str(conf), "-d", database],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = TrytonServer(
        url=f"http://127.0.0.1:{port}",
        database=database,
        login=ADMIN_LOGIN,
        password=ADMIN_PASSWORD,
        process=process,
        log_path=log_path,
        conf=conf,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"trytond exited: {log_path.read_text()[-3000:]}")
        try:
            TrytonRpc(server.url, database, server.login, server.password, timeout=5).login()
            return server
        except ErpError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"trytond never answered: {log_path.read_text()[-3000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def tryton_database():
    """A fresh copy of the template database, dropped at the end of the session."""
    reason = tryton_unavailable_reason()
    if reason:
        if REQUIRE_ALL:
            pytest.fail(f"Tryton required (CONCORD_REQUIRE_ALL=1): {reason}")
        pytest.skip(reason)
    started = time.monotonic()
    template = template_ensure(log=lambda message: None)
    name = f"concord_tryton_test_{os.getpid()}_{secrets.token_hex(3)}"
    database_create_from_template(name)
    try:
        yield {"name": name, "template": template, "seconds": time.monotonic() - started}
    finally:
        database_drop(name)


@pytest.fixture(scope="session")
def tryton_server(tryton_database, tmp_path_factory):
    """A trytond serving the session database over JSON-RPC (connection settings in it)."""
    server = _start_trytond(tryton_database["name"], tmp_path_factory.mktemp("trytond"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_extra_trytond(tryton_database, tmp_path):
    """Start another trytond on the session database (for the outage test); stopped after."""
    servers = []

    def start() -> TrytonServer:
        servers.append(_start_trytond(tryton_database["name"], tmp_path))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def adapter(tryton_server) -> TrytonAdapter:
    return tryton_server.adapter()


@pytest.fixture
def rpc(tryton_server) -> TrytonRpc:
    return TrytonRpc(
        tryton_server.url, tryton_server.database, tryton_server.login, tryton_server.password
    )


@pytest.fixture
def make_document():
    """An ErpDocument with unique ids: 2 lines (100.00 taxed 10%, 50.00 untaxed) by default."""

    def make(kind: str = "invoice", **overrides) -> ErpDocument:
        token = uuid.uuid4().hex[:10]
        lines = (
            DocumentLine(
                description="Platform subscription",
                account=REVENUE,
                quantity=Decimal(2),
                unit_price=Decimal("50.00"),
                amount=Decimal("100.00"),
                tax_code=SALES_TAX,
                tax_amount=Decimal("10.00"),
            ),
            DocumentLine(
                description="Onboarding",
                account=REVENUE,
                quantity=Decimal(1),
                unit_price=Decimal("50.00"),
                amount=Decimal("50.00"),
            ),
        )
        values = {
            "external_id": f"concord:{kind}:{token}",
            "kind": kind,
            "entity": "US01",
            "currency": "USD",
            "document_date": dt.date(2026, 3, 15),
            "party": Party(code=f"CUST-{token}", name=f"Customer {token}", country="US"),
            "total": Decimal("160.00"),
            "tax_total": Decimal("10.00"),
            "receivable_account": RECEIVABLE,
            "reference": f"INV-{token}",
            "lines": lines,
        }
        values.update(overrides)
        return ErpDocument(**values)

    return make
