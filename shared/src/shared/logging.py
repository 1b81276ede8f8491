"""Log lines with the request, user, event and trace they belong to: JSON for machines,
one readable line for a person at a terminal."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from shared.tracing import trace_id, traceparent_var

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)

_CONTEXT = {"request_id": request_id_var, "user_id": user_id_var, "event_id": event_id_var}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """What a line says besides its time, level, logger and message: the request, user,
    event and trace it belongs to, then whatever the call passed in `extra`."""
    entry: dict[str, Any] = {}
    for key, var in _CONTEXT.items():
        value = var.get()
        if value is not None:
            entry[key] = value
    current_trace = trace_id(traceparent_var.get())
    if current_trace:
        entry["trace_id"] = current_trace
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_"):
            entry[key] = value
    return entry


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One readable line per record, for a person at a terminal: the same fields as the JSON
    line, as `key=value` after the message (ids last, where the eye expects them)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        entry = fields(record)
        ids: dict[str, Any] = {}
        for key in ("request_id", "user_id", "event_id", "trace_id"):
            if key in entry:
                ids[key] = entry.pop(key)
        pairs = " ".join(f"{k}={_value(v)}" for k, v in (entry | ids).items())
        line = f"{ts} {record.levelname:<7} {self.service} {record.name}: {record.getMessage()}"
        if pairs:
            line += f"  {pairs}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=') else text


def resolve_format(log_format: str | bool | None, stream: Any) -> str:
    """`json` or `text`: `auto` (and None) picks text only when `stream` is a terminal; a
    bool is the older `LOG_JSON` switch."""
    if isinstance(log_format, bool):
        return "json" if log_format else "text"
    if log_format in ("json", "text"):
        return log_format
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(
    service: str, level: str = "INFO", log_format: str | bool | None = "auto"
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if resolve_format(log_format, sys.stderr) == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log duplicates ours (which carries the request id).
    logging.getLogger("uvicorn.access").disabled = True
    # One line per forwarded call is already in our access log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
