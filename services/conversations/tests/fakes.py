"""Local stand-ins for the providers replies go to, served over HTTP on 127.0.0.1 by uvicorn:
Meta's Graph API (WhatsApp Cloud API, Messenger Send API, Instagram messaging), Twilio's
Messages resource, and an integrator's callback endpoint.

They follow the documented shapes (see /work/shared/notes/outbound-channels.md): success
bodies, error bodies with the real codes, auth checks (401 with Graph 190 / Twilio 20003),
Twilio's StatusCallback URL check (21609) and opt-out (21610), scripted answers (429 with
Retry-After, 5xx, slow answers) and a request log. Reused by the end-to-end suite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shared.testing import LoopbackServer

WHATSAPP_TOKEN = "wa-good-token-0123456789"
PAGE_TOKEN = "page-good-token-0123456789"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "twilio-good-token-0123456789"
TWILIO_KEY_SID = "SK" + "0" * 31 + "2"
TWILIO_KEY_SECRET = "twilio-key-secret-0123456789"


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    delay: float


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes
    at: float  # time.monotonic() when it arrived
    wall: float = 0.0  # time.time() when it arrived (comparable across processes)


@dataclass
class FakeState:
    requests: list[Recorded] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    delay: float = 0.0
    opted_out: set[str] = field(default_factory=set)
    # Who owns what, for ownership checks. Graph: node id -> the one token that can read it
    # (a node not listed is readable with WHATSAPP_TOKEN and PAGE_TOKEN). Twilio: number ->
    # its Account SID (a number not listed is TWILIO_SID's); extra accounts: SID -> token.
    owners: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    checks: list[Recorded] = field(default_factory=list)  # ownership reads, not sends
    lock: threading.Lock = field(default_factory=threading.Lock)

    def own(self, resource: str, owner: str) -> None:
        """Only `owner` (a Graph token, or a Twilio Account SID) reaches `resource`."""
        with self.lock:
            self.owners[resource] = owner

    def answer_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next request(s) get this answer instead of the normal one."""
        with self.lock:
            for _ in range(times):
                self.script.append(Scripted(status, body, headers or {}, delay))

    def to(self, recipient: str) -> list[Recorded]:
        """Requests addressed to this recipient (any provider's field for it)."""
        return [r for r in self.requests if recipient in _recipients(r.body)]

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.requests.clear()
            self.opted_out.clear()
            self.owners.clear()
            self.accounts.clear()
            self.checks.clear()
            self.delay = 0.0

    def _next_script(self) -> Scripted | None:
        with self.lock:
            return self.script.pop(0) if self.script else None


def _recipients(body: Any) -> set[str]:
    if not isinstance(body, dict):
        return set()
    found = {str(body.get("to", "")), str(body.get("To", "")), str(body.get("visitor_id", ""))}
    recipient = body.get("recipient")
    if isinstance(recipient, dict):
        found.add(str(recipient.get("id", "")))
    return found - {""}


async def _record(
    state: FakeState, request: Request, body: Any, into: list[Recorded] | None = None
) -> Recorded:
    raw = await request.body()
    entry = Recorded(
        request.method,
        request.url.path,
        dict(request.query_params),
        {k.lower(): v for k, v in request.headers.items()},
        body,
        raw,
        time.monotonic(),
        time.time(),
    )
    with state.lock:
        (state.requests if into is None else into).append(entry)
    return entry


async def _scripted(state: FakeState) -> Response | None:
    import asyncio

    scripted = state._next_script()
    delay = scripted.delay if scripted else state.delay
    if delay:
        await asyncio.sleep(delay)
    if scripted is None:
        return None
    return JSONResponse(scripted.body, scripted.status, headers=scripted.headers)


def graph_error(code: int, message: str, status: int = 400, **extra: Any) -> dict[str, Any]:
    """A Graph API error body, as `answer_next(status, graph_error(...))` takes it."""
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "A4O5a8RAgePwbcGSu",
            **extra,
        }
    }


def graph_app(state: FakeState) -> FastAPI:
    """WhatsApp Cloud API and the Messenger/Instagram Send API on one Graph host."""
    app = FastAPI()

    @app.post("/{version}/{node}/messages")
    async def send(version: str, node: str, request: Request) -> Response:
        body = await request.json()
        await _record(state, request, body)
        whatsapp = isinstance(body, dict) and body.get("messaging_product") == "whatsapp"
        if whatsapp:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
        else:
            token = request.query_params.get("access_token", "")
        if token not in (WHATSAPP_TOKEN, PAGE_TOKEN):
            return JSONResponse(
                graph_error(190, "Invalid OAuth access token - Cannot parse access token"), 401
            )
        scripted = await _scripted(state)
        if scripted is not None:
            return scripted
        if whatsapp:
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
                }
            )
        return JSONResponse(
            {"recipient_id": body["recipient"]["id"], "message_id": f"m_{uuid.uuid4().hex}"}
        )

    @app.get("/{version}/{node}")
    async def read_node(version: str, node: str, request: Request) -> Response:
        """A node read (`?fields=id`): what an ownership check asks. The token goes as Bearer
        or `access_token`; Graph answers 190 for a bad token and 100/33 for a node the token
        cannot read."""
        await _record(state, request, None, state.checks)
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header else ""
        token = token or request.query_params.get("access_token", "")
        with state.lock:
            owner = state.owners.get(node)
            known = token in (WHATSAPP_TOKEN, PAGE_TOKEN) or token in state.owners.values()
        if not known:
            return JSONResponse(
                graph_error(190, "Invalid OAuth access token - Cannot parse access token"), 401
            )
        # Scripted answers are for sends; reads answer as the owners say.
        if owner != token and (owner is not None or token not in (WHATSAPP_TOKEN, PAGE_TOKEN)):
            return JSONResponse(
                graph_error(
                    100,
                    f"Unsupported get request. Object with ID '{node}' does not exist, cannot "
                    "be loaded due to missing permissions, or does not support this operation.",
                    error_subcode=33,
                ),
                400,
            )
        return JSONResponse({"id": node})

    return app


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def twilio_app(state: FakeState) -> FastAPI:
    app = FastAPI()
    valid = {(TWILIO_SID, TWILIO_TOKEN), (TWILIO_KEY_SID, TWILIO_KEY_SECRET)}

    @app.post("/2010-04-01/Accounts/{sid}/Messages.json")
    async def create(sid: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        await _record(state, request, form)
        user, _, password = _basic(request.headers.get("authorization", ""))
        if sid != TWILIO_SID or (user, password) not in valid:
            return JSONResponse(twilio_error(20003, "Authenticate", 401), 401)
        scripted = await _scripted(state)
        if scripted is not None:
            return scripted
        callback = str(form.get("StatusCallback") or "")
        parts = urlsplit(callback)
        if callback and (parts.scheme not in ("http", "https") or "_" in (parts.hostname or "_")):
            return JSONResponse(
                twilio_error(21609, f"The StatusCallback URL {callback} is not a valid URL."), 400
            )
        if form.get("To") in state.opted_out:
            return JSONResponse(
                twilio_error(21610, "Attempt to send to unsubscribed recipient"), 400
            )
        return JSONResponse(
            {
                "sid": f"SM{uuid.uuid4().hex}",
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "error_message": None,
            },
            201,
        )

    @app.get("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json")
    async def incoming_numbers(sid: str, request: Request) -> Response:
        """The account's numbers, filtered by `PhoneNumber`: what an ownership check asks."""
        await _record(state, request, None, state.checks)
        user, _, password = _basic(request.headers.get("authorization", ""))
        with state.lock:
            accounts = {(TWILIO_SID, TWILIO_TOKEN)} | set(state.accounts.items())
            number = request.query_params.get("PhoneNumber", "")
            owner = state.owners.get(number, TWILIO_SID)
        key_pair = sid == TWILIO_SID and (user, password) == (TWILIO_KEY_SID, TWILIO_KEY_SECRET)
        if not key_pair and (user != sid or (user, password) not in accounts):
            return JSONResponse(twilio_error(20003, "Authenticate", 401), 401)
        found = (
            [{"sid": f"PN{uuid.uuid4().hex}", "account_sid": sid, "phone_number": number}]
            if owner == sid
            else []
        )
        return JSONResponse(
            {"incoming_phone_numbers": found, "page": 0, "page_size": 50, "next_page_uri": None}
        )

    return app


def _basic(header: str) -> tuple[str, str, str]:
    try:
        return base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        return "", "", ""


def callback_app(state: FakeState) -> FastAPI:
    """An integrator's endpoint receiving our signed reply callbacks."""
    app = FastAPI()

    @app.post("/replies")
    async def receive(request: Request) -> Response:
        body = await request.json()
        await _record(state, request, body)
        scripted = await _scripted(state)
        if scripted is not None:
            return scripted
        return JSONResponse({"id": f"cb-{uuid.uuid4().hex[:12]}"})

    return app


def callback_signature_ok(secret: str, recorded: Recorded) -> bool:
    """What an integrator checks (the README documents it)."""
    timestamp = recorded.headers.get("x-base-timestamp", "")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + recorded.raw, hashlib.sha256)
    header = recorded.headers.get("x-base-signature", "")
    return hmac.compare_digest("sha256=" + expected.hexdigest(), header)


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """`X-Twilio-Signature` as Twilio computes it, for status callbacks a test posts."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def meta_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


# -- running on loopback -------------------------------------------------------------------


class FakeServer(LoopbackServer):
    def __init__(self, app: FastAPI, state: FakeState) -> None:
        self.state = state
        super().__init__(app, "fake provider")


@dataclass
class Providers:
    graph: FakeServer
    twilio: FakeServer
    callback: FakeServer

    def reset(self) -> None:
        for server in (self.graph, self.twilio, self.callback):
            server.state.reset()

    def stop(self) -> None:
        for server in (self.graph, self.twilio, self.callback):
            server.stop()


def start_providers() -> Providers:
    graph, twilio, callback = FakeState(), FakeState(), FakeState()
    return Providers(
        FakeServer(graph_app(graph), graph).start(),
        FakeServer(twilio_app(twilio), twilio).start(),
        FakeServer(callback_app(callback), callback).start(),
    )
