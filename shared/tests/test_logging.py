"""Log lines: JSON for machines, one readable line at a terminal, the same fields either way."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from shared.logging import JsonFormatter, TextFormatter, request_id_var, resolve_format
from shared.settings import ServiceSettings
from shared.testing import internal_headers
from shared.tokens import audience_key
from shared.tracing import new_traceparent, trace_id, traceparent_var
from shared.web import install_common

SECRET = "logging-test-secret-key-long-enough-for-hs256"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(msg: str, **extra: object) -> logging.LogRecord:
    return logging.getLogger("orders").makeRecord(
        "orders", logging.WARNING, __file__, 1, msg, (), None, extra=extra
    )


def test_auto_is_text_at_a_terminal_and_json_otherwise_unless_told() -> None:
    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format(None, io.StringIO()) == "json"
    assert resolve_format("json", Terminal()) == "json"
    assert resolve_format("text", io.StringIO()) == "text"
    assert resolve_format(False, io.StringIO()) == "text"  # the older LOG_JSON switch


def test_log_format_setting_overrides_the_older_log_json(monkeypatch) -> None:
    for name in ("LOG_FORMAT", "LOG_JSON"):
        monkeypatch.delenv(name, raising=False)
    assert ServiceSettings(_env_file=None).resolved_log_format == "auto"
    monkeypatch.setenv("LOG_JSON", "false")
    assert ServiceSettings(_env_file=None).resolved_log_format == "text"
    monkeypatch.setenv("LOG_JSON", "true")
    assert ServiceSettings(_env_file=None).resolved_log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert ServiceSettings(_env_file=None).resolved_log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        ServiceSettings(_env_file=None)


def test_a_text_line_says_what_the_json_line_says() -> None:
    traceparent = new_traceparent()
    trace_token = traceparent_var.set(traceparent)
    request_token = request_id_var.set("req-1")
    try:
        rec = record("order %s late", order="A 7", attempt=2)
        rec.args = ("42",)
        text = TextFormatter("shop").format(rec)
        entry = json.loads(JsonFormatter("shop").format(rec))
    finally:
        traceparent_var.reset(trace_token)
        request_id_var.reset(request_token)
    assert "\n" not in text
    assert text.split(" ", 1)[1].startswith("WARNING shop orders: order 42 late")
    assert 'order="A 7"' in text and "attempt=2" in text
    assert text.endswith(f"request_id=req-1 trace_id={trace_id(traceparent)}")
    assert entry["msg"] == "order 42 late" and entry["order"] == "A 7"
    assert entry["request_id"] == "req-1" and entry["trace_id"] == trace_id(traceparent)


@pytest.fixture
def text_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter("svc"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_text_access_lines_keep_request_user_and_trace_ids(text_lines: io.StringIO) -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/api/v1/things")
    async def things() -> list[str]:
        return []

    app.include_router(router)
    install_common(app, "svc", audience_key(SECRET, "svc"))
    user = uuid.uuid4()
    caller = new_traceparent()
    headers = internal_headers(SECRET, "svc", user) | {
        "traceparent": caller,
        "x-request-id": "req-42",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get("/api/v1/things", headers=headers)).status_code == 200
    [line] = [line for line in text_lines.getvalue().splitlines() if " access: " in line]
    assert "GET /api/v1/things 200" in line
    assert "request_id=req-42" in line
    assert f"user_id={user}" in line
    assert f"trace_id={trace_id(caller)}" in line
