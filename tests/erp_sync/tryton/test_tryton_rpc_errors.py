"""How the JSON-RPC client classifies what a (stub) Tryton answers. Needs no Tryton."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from erp_sync.adapters.base import (
    NonRetryableError,
    PeriodClosedError,
    RetryableError,
    UnparseableResponseError,
)
from erp_sync.adapters.jsonrpc import TrytonRpc, TrytonWarning
from erp_sync.adapters.tryton import TrytonAdapter

LOGIN_OK = json.dumps({"id": 1, "result": [1, "token"]})


class StubTryton:
    """Answers the login, then each queued (status, body, headers) in turn."""

    def __init__(self):
        self.answers: list[tuple[int, str, dict]] = []
        self.calls: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append({"body": body, "auth": self.headers.get("Authorization")})
                if body["method"] == "common.db.login":
                    status, text, headers = 200, LOGIN_OK, {}
                else:
                    status, text, headers = stub.answers.pop(0)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # shutdown() waits for the serving loop's next poll: 0.05 s rather than the 0.5 s default.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def rpc(self) -> TrytonRpc:
        return TrytonRpc(self.url, "db", "admin", "pw", timeout=2)


@pytest.fixture
def stub():
    stub = StubTryton()
    yield stub
    stub.server.shutdown()


def _error(name, args):
    return (200, json.dumps({"id": 1, "error": [name, args]}), {})


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        ((503, "locked", {}), RetryableError),
        ((500, "boom", {}), RetryableError),
        ((200, "<html>proxy error</html>", {}), UnparseableResponseError),
        ((200, json.dumps({"id": 1}), {}), UnparseableResponseError),
        (_error("UserError", ["The field X is required.", "", None]), NonRetryableError),
        (
            _error("UserError", ['To continue, you must reopen the period "2026-03".', "", None]),
            PeriodClosedError,
        ),
        (_error("UserWarning", ["key_1", "Are you sure?", ""]), TrytonWarning),
        (_error("ConcurrencyException", ["Records were modified"]), RetryableError),
        (_error("could not serialize access due to concurrent update", "tb"), RetryableError),
        (_error("KeyError: 'x'", "tb"), NonRetryableError),
        ((404, "not found", {}), NonRetryableError),
    ],
)
def test_call_with_tryton_answer_raises_classified_error(stub, answer, error_class):
    stub.answers.append(answer)

    with pytest.raises(error_class) as caught:
        stub.rpc().call("model.x.y", {})

    assert type(caught.value) is error_class
    if error_class is UnparseableResponseError:
        assert caught.value.raw == answer[1]


def test_call_with_429_raises_retryable_with_retry_after(stub):
    stub.answers.append((429, "slow down", {"Retry-After": "7"}))

    with pytest.raises(RetryableError) as caught:
        stub.rpc().call("model.x.y", {})

    assert caught.value.retry_after == 7.0


def test_call_after_session_expiry_logs_in_again_and_retries(stub):
    stub.answers += [(401, "expired", {}), (200, json.dumps({"id": 1, "result": 42}), {})]

    assert stub.rpc().call("model.x.y", {}) == 42
    assert [c["body"]["method"] for c in stub.calls] == [
        "common.db.login",
        "model.x.y",
        "common.db.login",
        "model.x.y",
    ]
    assert stub.calls[1]["auth"].startswith("Session ")


def test_call_to_closed_port_raises_retryable():
    rpc = TrytonRpc("http://127.0.0.1:9", "db", "admin", "pw", timeout=2)

    with pytest.raises(RetryableError):
        rpc.call("model.x.y", {})


def test_health_on_unparseable_server_is_not_ok_and_does_not_raise(stub):
    stub.answers.append((200, "not json", {}))
    adapter = TrytonAdapter(stub.url, "db", "admin", "pw", timeout=2)

    health = adapter.health()

    assert health.ok is False and "erp_unparseable" in health.detail
