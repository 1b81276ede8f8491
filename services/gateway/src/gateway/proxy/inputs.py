"""Refuse text no service can store, before it reaches any route.

Control characters in a path or query (`/connectors/%06abc`, `?q=%00`) and NUL or lone
surrogates inside JSON strings cannot be a valid id, handle or name, and Postgres refuses
NUL in text outright. Checked once here, every route (the gateway's own and every forwarded
one) answers a readable 400 or 422 instead of failing deeper down with a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.web import problem

# RFC 3986 pchar plus "/" and "%": an already escaped path keeps its escapes.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# What may decode to text Postgres cannot hold: escaped NUL and UTF-16 surrogates, and
# surrogates written as UTF-8 bytes (ED A0-BF ..), which json.loads takes from bytes.
_SUSPECT_ESCAPE = re.compile(rb"\\u(0000|d[89a-f])|\xed[\xa0-\xbf]", re.IGNORECASE)
_FORM_NUL = re.compile(rb"%00|\x00")


# Unicode's control characters (category Cc) are exactly these two ranges.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def upstream_path(scope: Scope) -> str:
    """The path as the client escaped it, so the upstream URL is never rebuilt from decoded
    text (an HTTP client rightly refuses a URL holding control characters)."""
    raw: bytes | None = scope.get("raw_path")
    if not raw:
        return quote(scope["path"], safe=_PATH_SAFE)
    return quote(raw.split(b"?", 1)[0], safe=_PATH_SAFE)


def upstream_query(scope: Scope) -> str:
    """The query as the client sent it (repeated keys and their order kept); any byte that
    is not printable ASCII is escaped, so the forwarded request line stays valid."""
    raw: bytes = scope.get("query_string", b"")
    return quote(raw, safe=_QUERY_SAFE) if raw else ""


# Deeper than any body this API takes; checked without recursion, so no depth is a 500.
MAX_JSON_DEPTH = 64
TOO_DEEP = f"JSON may not be nested more than {MAX_JSON_DEPTH} levels deep"
UNSTORABLE = "Text fields may not contain NUL characters or unpaired surrogates"


def _unstorable_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a parsed JSON value cannot be taken (too deep, or text Postgres cannot hold), or
    None. Walks with a stack of its own: a body nested 100,000 deep costs a loop, not the
    interpreter's recursion limit."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _unstorable_text(item):
                return UNSTORABLE
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return TOO_DEEP
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def too_deep(body: bytes, value: Any) -> bool:
    """Whether `value`, parsed from `body`, is nested deeper than MAX_JSON_DEPTH, as
    `json_problem` finds it. That needs more than MAX_JSON_DEPTH opening brackets, each of
    which is a `[` or `{` byte of the body (in any encoding json.loads reads): a body with
    fewer, like every webhook a provider sends, is not walked."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    return json_problem(value) == TOO_DEEP


def parse_json(body: bytes) -> Any:
    """`json.loads`, with a body nested too deep for the parser's recursion refused as
    ValueError like any other malformed JSON."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


def head_problem(scope: Scope) -> str | None:
    """Why the path or query cannot be taken (a 400), or None."""
    if has_control(scope["path"]):
        return "The path contains a control character"
    query = unquote(scope.get("query_string", b"").decode("latin-1"), errors="replace")
    if has_control(query):
        return "The query string contains a control character"
    return None


def body_kind(headers: dict[bytes, bytes]) -> str | None:
    """`form` or `json` when the body is read and checked here (by its Content-Type), else
    None: other bodies pass as they come."""
    content_type = headers.get(b"content-type", b"").lower()
    if b"application/x-www-form-urlencoded" in content_type:
        return "form"
    if b"json" in content_type:
        return "json"
    return None


def body_problem(kind: str, body: bytes) -> str | None:
    """Why a whole form or JSON body cannot be taken (a 422), or None. Malformed JSON is left
    to the route's own 400 or 422."""
    if kind == "form":
        return "Form fields may not contain NUL characters" if _FORM_NUL.search(body) else None
    if not _SUSPECT_ESCAPE.search(body):
        return None
    try:
        return json_problem(parse_json(body))
    except ValueError as exc:
        return TOO_DEEP if str(exc) == TOO_DEEP else None


class TextInputMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = head_problem(scope)
        if refused is not None:
            await problem(400, refused)(scope, receive, send)
            return
        kind = body_kind(dict(scope["headers"]))
        if kind is None:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:  # bounded by the body size limit around this middleware
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, replay([message]), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        found = body_problem(kind, body)
        if found is not None:
            await problem(422, found)(scope, receive, send)
            return
        await self.app(scope, replay([{"type": "http.request", "body": body}], receive), send)


def replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()  # e.g. http.disconnect while a response streams
        return {"type": "http.disconnect"}

    return receive
