"""Demo data through the public API of a running system: `make seed` calls this.

    make run     # in another terminal
    make seed    # three owners, each with a workspace, services, a connector, channel
                 # accounts and conversations on every channel

Everything goes through the gateway, as a frontend or a provider would: sign-up and login,
owner API calls, the public web chat, and signed WhatsApp, Messenger, Instagram, Twilio and
integrator webhooks. Running it again adds nothing: owners are found by e-mail, workspaces by
handle, services and connectors by name, channel accounts by provider id, conversations by
visitor and messages by provider id or text.

Environment: SEED_GATEWAY_URL (http://127.0.0.1:8000), SEED_PASSWORD, SEED_TIMEOUT_SECONDS,
and the gateway's own webhook settings with their defaults (META_APP_SECRET,
TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL), so the signatures match. Channel accounts route only once
the provider confirms their credentials reach them, so the WhatsApp, Messenger, Instagram and
SMS conversations appear only where GRAPH_API_BASE_URL / TWILIO_API_BASE_URL answer for the
demo ids with SEED_GRAPH_TOKEN / SEED_TWILIO_ACCOUNT_SID + SEED_TWILIO_AUTH_TOKEN (the test
suite's loopback fakes do). Integrator posts are signed with each account's own secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from gateway.settings import Settings as GatewaySettings

API = "/api/v1"
T = TypeVar("T")


class SeedError(RuntimeError):
    """Something the operator has to fix; printed without a traceback."""


@dataclass(frozen=True)
class Visit:
    """One conversation: who, on which channel, and what was said (role, text)."""

    channel: str
    visitor_id: str
    visitor_name: str
    lines: tuple[tuple[str, str], ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Owner:
    email: str
    full_name: str
    handle: str
    name: str
    tone: str
    timezone: str
    services: tuple[dict[str, Any], ...]
    connector: dict[str, Any]
    slug: str
    number: int  # keeps provider ids of different owners apart

    def accounts(self) -> dict[str, str]:
        """Provider account ids, by channel, connected to this workspace."""
        n = self.number
        return {
            "whatsapp": f"10900000000{n:04d}",
            "messenger": f"demo-page-{self.slug}",
            "instagram": f"demo-ig-{self.slug}",
            "sms": f"+1555010{n:04d}",
            "chatgpt": f"demo-chatgpt-{self.slug}",
            "phone": f"demo-voice-{self.slug}",
        }

    def visits(self) -> list[Visit]:
        n, s = self.number, self.slug
        return [
            Visit(
                "phone",
                f"demo-call-{s}",
                "Walk-in caller",
                (
                    ("owner", "Called to ask about prices; sent them the list."),
                    ("owner", "Booked for next week, confirmed by phone."),
                ),
                tags=("booking",),
            ),
            Visit(
                "web",
                "",
                f"Web visitor of {self.full_name.split()[0]}",
                (
                    ("visitor", "Hi! Do you have anything free tomorrow morning?"),
                    ("visitor", "Any time before 11 works for me."),
                    ("owner", "Yes, 10:00 is free. Shall I book it for you?"),
                ),
            ),
            Visit(
                "whatsapp",
                f"3461100{n:04d}",
                "Lucía",
                (
                    ("visitor", "Hola, ¿puedo reservar para el viernes?"),
                    ("visitor", "Por la tarde si es posible."),
                    ("agent", "¡Claro! Tengo libre el viernes a las 17:00. ¿Te lo reservo?"),
                ),
            ),
            Visit(
                "messenger",
                f"demo-psid-{s}",
                "",
                (
                    ("visitor", "Hello, are you open on Sundays?"),
                    ("agent", "We are closed on Sundays, but Saturday is open until 14:00."),
                ),
            ),
            Visit(
                "instagram",
                f"demo-igsid-{s}",
                "",
                (("visitor", "Love your last post! How much is a first visit?"),),
                tags=("pricing",),
            ),
            Visit(
                "sms",
                f"+1555020{n:04d}",
                "",
                (
                    ("visitor", "Running 10 minutes late, sorry!"),
                    ("owner", "No problem, see you soon."),
                ),
            ),
            Visit(
                "chatgpt",
                f"chatgpt-user-{s}",
                "Sam",
                (("visitor", "I'd like to book the first available slot next week."),),
            ),
            Visit(
                "phone",
                f"+1555030{n:04d}",
                "Caller from the voice line",
                (
                    ("visitor", "Caller asked to move their appointment to Thursday."),
                    ("agent", "Moved to Thursday at 09:30 and sent a confirmation."),
                ),
            ),
        ]


OWNERS = (
    Owner(
        email="ana@demo.example.com",
        full_name="Ana Ruiz",
        handle="demo-ana-yoga",
        name="Ana's Yoga Studio",
        tone="friendly",
        timezone="Europe/Madrid",
        services=(
            {"name": "Hatha class", "duration_minutes": 60, "price": "15.00", "currency": "EUR"},
            {
                "name": "Private session",
                "duration_minutes": 90,
                "price": "60.00",
                "currency": "EUR",
            },
            {"name": "Intro call", "duration_minutes": 15},
        ),
        connector={
            "name": "Calendly",
            "config": {"provider": "calendly", "access_token": "demo-calendly-token-ana"},
        },
        slug="ana",
        number=1,
    ),
    Owner(
        email="ben@demo.example.com",
        full_name="Ben Okafor",
        handle="demo-ben-barbers",
        name="Ben's Barbershop",
        tone="casual",
        timezone="America/New_York",
        services=(
            {"name": "Haircut", "duration_minutes": 30, "price": "25.00", "currency": "USD"},
            {"name": "Beard trim", "duration_minutes": 15, "price": "12.00", "currency": "USD"},
        ),
        connector={
            "name": "Square",
            "config": {
                "provider": "square",
                "access_token": "demo-square-token-ben",
                "location_id": "DEMOLOCATION1",
                "environment": "sandbox",
            },
        },
        slug="ben",
        number=2,
    ),
    Owner(
        email="carla@demo.example.com",
        full_name="Carla Souza",
        handle="demo-carla-dental",
        name="Clínica Carla",
        tone="professional",
        timezone="America/Sao_Paulo",
        services=(
            {"name": "Check-up", "duration_minutes": 30, "price": "150.00", "currency": "BRL"},
            {"name": "Cleaning", "duration_minutes": 45, "price": "220.00", "currency": "BRL"},
            {"name": "Whitening consultation", "duration_minutes": 20},
        ),
        connector={
            "name": "AgendaPro",
            "config": {
                "provider": "agendapro",
                "api_key": "demo-agendapro-key-carla",
                "location_id": 101,
            },
        },
        slug="carla",
        number=3,
    ),
)


# Every demo workspace takes bookings in its own calendar (no outside account needed):
# weekdays 09:00-13:00 and 14:00-18:00 in the workspace's timezone, an hour's notice.
CALENDAR: dict[str, Any] = {
    "name": "Built-in calendar",
    "config": {
        "provider": "builtin",
        "weekly_hours": {
            day: [["09:00", "13:00"], ["14:00", "18:00"]]
            for day in ("mon", "tue", "wed", "thu", "fri")
        },
        "buffer_after_minutes": 5,
        "min_notice_minutes": 60,
        "max_days_ahead": 60,
        "slot_step_minutes": 15,
    },
}


@dataclass
class Tally:
    """What this run found and what it added, per kind."""

    found: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, added: bool, n: int = 1) -> None:
        target = self.added if added else self.found
        target[kind] = target.get(kind, 0) + n

    def line(self) -> str:
        kinds = sorted(set(self.found) | set(self.added))
        return ", ".join(
            f"{kind} {self.found.get(kind, 0) + self.added.get(kind, 0)}"
            f" (+{self.added.get(kind, 0)})"
            for kind in kinds
        )


def until(what: str, attempt: Callable[[], T | None], timeout: float) -> T:
    """Retry while the system catches up (events between services take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise SeedError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.3)


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise SeedError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response


class Seeder:
    def __init__(self, client: httpx.Client, settings: GatewaySettings, password: str) -> None:
        self.client = client
        self.settings = settings
        self.password = password
        self.timeout = float(os.environ.get("SEED_TIMEOUT_SECONDS", "60"))
        # (channel, provider id) -> the channel account as read, and its owner's headers.
        self.connected: dict[tuple[str, str], tuple[dict[str, Any], dict[str, str]]] = {}

    @staticmethod
    def credentials(channel: str) -> dict[str, str] | None:
        graph = os.environ.get("SEED_GRAPH_TOKEN")
        sid, token = (os.environ.get(f"SEED_TWILIO_{k}") for k in ("ACCOUNT_SID", "AUTH_TOKEN"))
        if channel == "whatsapp" and graph:
            return {"access_token": graph}
        if channel in ("messenger", "instagram") and graph:
            return {"page_access_token": graph}
        if channel == "sms" and sid and token:
            return {"account_sid": sid, "auth_token": token}
        return None

    # -- owner, workspace, catalogue, connector, channel accounts ---------------------------

    def login(self, owner: Owner, tally: Tally) -> dict[str, str]:
        signup = self.client.post(
            f"{API}/users/signup",
            json={"email": owner.email, "password": self.password, "full_name": owner.full_name},
        )
        expect(signup, 201, 409)
        tally.count("owners", signup.status_code == 201)
        token = self.client.post(
            f"{API}/login/access-token", data={"username": owner.email, "password": self.password}
        )
        if token.status_code != 200:
            raise SeedError(
                f"{owner.email} exists but does not log in with the seed password "
                f"({token.status_code}: {token.text[:200]}); set SEED_PASSWORD or remove the user"
            )
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    def workspace(self, owner: Owner, auth: dict[str, str], tally: Tally) -> dict[str, Any]:
        mine = self.client.get(f"{API}/workspaces/me", headers=auth)
        if mine.status_code == 200:
            tally.count("workspaces", False)
            return dict(mine.json())
        expect(mine, 404)
        created = self.client.post(
            f"{API}/workspaces/",
            headers=auth,
            json={
                "handle": owner.handle,
                "name": owner.name,
                "tone": owner.tone,
                "timezone": owner.timezone,
            },
        )
        if created.status_code == 409:
            raise SeedError(f"the handle {owner.handle!r} belongs to another user")
        tally.count("workspaces", True)
        return dict(expect(created, 201).json())

    def services(self, owner: Owner, auth: dict[str, str], tally: Tally) -> None:
        listed = expect(self.client.get(f"{API}/workspace-services/?limit=500", headers=auth), 200)
        names = {s["name"] for s in listed.json()["data"]}
        for service in owner.services:
            if service["name"] in names:
                tally.count("services", False)
                continue
            expect(self.client.post(f"{API}/workspace-services/", headers=auth, json=service), 201)
            tally.count("services", True)

    def connector(self, owner: Owner, auth: dict[str, str], tally: Tally) -> None:
        """The owner's provider connector (demo credentials, never checked, left inactive)
        and the built-in calendar, made the active one so visitors can book at once."""

        def existing() -> list[dict[str, Any]] | None:
            listed = self.client.get(f"{API}/connectors/?limit=500", headers=auth)
            return list(listed.json()["data"]) if listed.status_code == 200 else None

        by_name = {c["name"]: c for c in until("the connectors list", existing, self.timeout)}
        for spec in (owner.connector, CALENDAR):
            if spec["name"] in by_name:
                tally.count("connectors", False)
                continue

            def create(spec: dict[str, Any] = spec) -> dict[str, Any] | None:
                response = self.client.post(f"{API}/connectors/", headers=auth, json=spec)
                if response.status_code == 409:  # the workspace has not reached it yet
                    return None
                return dict(expect(response, 201).json())

            by_name[spec["name"]] = until("the workspace to reach connectors", create, self.timeout)
            tally.count("connectors", True)
        calendar = by_name[CALENDAR["name"]]
        if not calendar["is_active"]:
            expect(
                self.client.post(f"{API}/connectors/{calendar['id']}/activate", headers=auth), 200
            )

    def channel_accounts(self, owner: Owner, auth: dict[str, str], tally: Tally) -> None:
        def existing() -> dict[tuple[str, str], dict[str, Any]] | None:
            listed = self.client.get(f"{API}/channel-accounts/?limit=500", headers=auth)
            if listed.status_code == 404:  # the workspace has not reached conversations yet
                return None
            data = expect(listed, 200).json()["data"]
            return {(a["channel"], a["account_id"]): a for a in data}

        have = until("the workspace to reach conversations", existing, self.timeout)
        for channel, account_id in owner.accounts().items():
            if (channel, account_id) in have:
                tally.count("channel accounts", False)
                self.connected[(channel, account_id)] = (have[(channel, account_id)], auth)
                continue
            body: dict[str, Any] = {
                "channel": channel,
                "account_id": account_id,
                "name": f"{owner.name} {channel}",
            }
            credentials = self.credentials(channel)
            if credentials is not None:
                body["credentials"] = credentials
            response = self.client.post(f"{API}/channel-accounts/", headers=auth, json=body)
            if response.status_code == 409:
                raise SeedError(f"{channel} account {account_id} is connected to another workspace")
            self.connected[(channel, account_id)] = (expect(response, 201).json(), auth)
            tally.count("channel accounts", True)

    # -- conversations ----------------------------------------------------------------------

    def conversation(self, auth: dict[str, str], visit: Visit) -> dict[str, Any] | None:
        listed = expect(
            self.client.get(
                f"{API}/conversations/",
                headers=auth,
                params={"channel": visit.channel, "limit": 500},
            ),
            200,
        )
        for conversation in listed.json()["data"]:
            if visit.channel == "web":
                if conversation["visitor_name"] == visit.visitor_name:
                    return dict(conversation)
            elif conversation["visitor_id"] == visit.visitor_id:
                return dict(conversation)
        return None

    def messages(self, auth: dict[str, str], conversation_id: str) -> list[dict[str, Any]]:
        listed = self.client.get(
            f"{API}/messages/",
            headers=auth,
            params={"conversation_id": conversation_id, "limit": 500},
        )
        return list(expect(listed, 200).json()["data"])

    def replies(
        self, auth: dict[str, str], conversation: dict[str, Any], visit: Visit, tally: Tally
    ) -> None:
        """Owner lines, posted through the owner API unless already there. Agent lines are
        not: only the agent writes agent messages (the API refuses `role="agent"`), and it
        answers the seeded visitors itself when it runs."""
        said = {(m["role"], m["content"]) for m in self.messages(auth, conversation["id"])}
        for role, content in visit.lines:
            if role != "owner":
                continue
            if (role, content) in said:
                tally.count("messages", False)
                continue
            expect(
                self.client.post(
                    f"{API}/messages/",
                    headers=auth,
                    json={"conversation_id": conversation["id"], "content": content},
                ),
                201,
            )
            tally.count("messages", True)

    def owner_conversation(
        self, owner: Owner, auth: dict[str, str], visit: Visit, tally: Tally
    ) -> None:
        conversation = self.conversation(auth, visit)
        tally.count("conversations", conversation is None)
        if conversation is None:
            conversation = expect(
                self.client.post(
                    f"{API}/conversations/",
                    headers=auth,
                    json={
                        "channel": visit.channel,
                        "visitor_id": visit.visitor_id,
                        "visitor_name": visit.visitor_name,
                        "tags": list(visit.tags),
                        "started_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                    },
                ),
                201,
            ).json()
        self.replies(auth, conversation, visit, tally)

    def web_chat(self, owner: Owner, auth: dict[str, str], visit: Visit, tally: Tally) -> None:
        conversation = self.conversation(auth, visit)
        if conversation is None:
            opened = expect(
                self.client.post(
                    f"{API}/public/workspaces/{owner.handle}/conversations",
                    json={"visitor_name": visit.visitor_name},
                ),
                201,
            ).json()
            token = {"X-Visitor-Token": opened["visitor_token"]}
            for role, content in visit.lines:
                if role == "visitor":
                    expect(
                        self.client.post(
                            f"{API}/public/conversations/{opened['conversation_id']}/messages",
                            headers=token,
                            json={"content": content},
                        ),
                        201,
                    )
                    tally.count("messages", True)
            tally.count("conversations", True)
            conversation = until(
                "the web chat", lambda: self.conversation(auth, visit), self.timeout
            )
        else:
            tally.count("conversations", False)
            tally.count("messages", False, sum(1 for role, _ in visit.lines if role == "visitor"))
        self.replies(auth, conversation, visit, tally)

    def inbound(self, owner: Owner, auth: dict[str, str], visit: Visit, tally: Tally) -> None:
        """The visitor's lines as the provider sends them, signed; then the replies. An account
        the provider has not confirmed routes nothing: its visits are skipped, and said so."""
        account_read, _ = self.connected[(visit.channel, owner.accounts()[visit.channel])]
        if account_read.get("verification", "verified") != "verified":
            tally.count("visits skipped (channel account not confirmed)", False)
            return
        texts = [content for role, content in visit.lines if role == "visitor"]
        ids = [f"demo-{owner.slug}-{visit.channel}-{i}" for i in range(1, len(texts) + 1)]
        conversation = self.conversation(auth, visit)
        stored = (
            {m["external_id"] for m in self.messages(auth, conversation["id"])}
            if conversation
            else set()
        )
        missing = [(i, t) for i, t in zip(ids, texts, strict=True) if i not in stored]
        tally.count("conversations", conversation is None)
        tally.count("messages", False, len(texts) - len(missing))
        if missing:
            account = owner.accounts()[visit.channel]
            self.send(visit, account, missing)
            tally.count("messages", True, len(missing))

            def arrived() -> dict[str, Any] | None:
                found = self.conversation(auth, visit)
                if found is None:
                    return None
                have = {m["external_id"] for m in self.messages(auth, found["id"])}
                return found if set(ids) <= have else None

            conversation = until(
                f"the {visit.channel} messages to be stored", arrived, self.timeout
            )
        assert conversation is not None
        self.replies(auth, conversation, visit, tally)

    # -- providers ----------------------------------------------------------------------------

    def send(self, visit: Visit, account: str, items: list[tuple[str, str]]) -> None:
        if visit.channel in ("whatsapp", "messenger", "instagram"):
            body = json.dumps(self.meta_payload(visit, account, items)).encode()
            digest = hmac.new(
                self.settings.meta_app_secret.encode(), body, hashlib.sha256
            ).hexdigest()
            response = self.client.post(
                f"{API}/webhooks/{visit.channel}",
                content=body,
                headers={
                    "X-Hub-Signature-256": f"sha256={digest}",
                    "Content-Type": "application/json",
                },
            )
            expect(response, 200)
        elif visit.channel == "sms":
            for external_id, content in items:  # Twilio sends one request per SMS
                form = {
                    "MessageSid": external_id,
                    "From": visit.visitor_id,
                    "To": account,
                    "Body": content,
                }
                path = f"{API}/webhooks/twilio/sms"
                url = self.settings.public_base_url.rstrip("/") + path
                signed = url + "".join(k + v for k, v in sorted(form.items()))
                signature = base64.b64encode(
                    hmac.new(
                        self.settings.twilio_auth_token.encode(), signed.encode(), hashlib.sha1
                    ).digest()
                ).decode()
                response = self.client.post(
                    path,
                    content=urlencode(form).encode(),
                    headers={
                        "X-Twilio-Signature": signature,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                expect(response, 200)
        else:  # chatgpt, phone: the signed integrator endpoint
            now = datetime.now(UTC)
            body = json.dumps(
                {
                    "account_id": account,
                    "messages": [
                        {
                            "external_id": external_id,
                            "visitor_id": visit.visitor_id,
                            "visitor_name": visit.visitor_name or None,
                            "content": content,
                            "sent_at": (now - timedelta(minutes=len(items) - n)).isoformat(),
                        }
                        for n, (external_id, content) in enumerate(items)
                    ],
                }
            ).encode()
            timestamp = str(int(time.time()))
            connected, secret = self.inbound_secret(visit.channel, account)
            digest = hmac.new(
                secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            response = self.client.post(
                f"{API}/webhooks/inbound/{visit.channel}",
                content=body,
                headers={
                    "X-Base-Account": connected["id"],
                    "X-Base-Timestamp": timestamp,
                    "X-Base-Signature": f"sha256={digest}",
                    "Content-Type": "application/json",
                },
            )
            expect(response, 200)

    def inbound_secret(self, channel: str, account: str) -> tuple[dict[str, Any], str]:
        """An integrator account and its signing secret: shown when it was created, or (on a
        later run) a fresh one from rotating it."""
        connected, auth = self.connected[(channel, account)]
        if not connected.get("inbound_signing_secret"):
            rotated = self.client.post(
                f"{API}/channel-accounts/{connected['id']}/rotate-secret", headers=auth
            )
            connected = expect(rotated, 200).json()
            self.connected[(channel, account)] = (connected, auth)
        return connected, connected["inbound_signing_secret"]

    @staticmethod
    def meta_payload(visit: Visit, account: str, items: list[tuple[str, str]]) -> dict[str, Any]:
        start = int(time.time()) - 60 * len(items)
        if visit.channel == "whatsapp":
            return {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": f"waba-{account}",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": account,
                                        "phone_number_id": account,
                                    },
                                    "contacts": [
                                        {
                                            "profile": {"name": visit.visitor_name},
                                            "wa_id": visit.visitor_id,
                                        }
                                    ],
                                    "messages": [
                                        {
                                            "from": visit.visitor_id,
                                            "id": external_id,
                                            "timestamp": str(start + 60 * n),
                                            "type": "text",
                                            "text": {"body": content},
                                        }
                                        for n, (external_id, content) in enumerate(items)
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        return {
            "object": "page" if visit.channel == "messenger" else "instagram",
            "entry": [
                {
                    "id": account,
                    "time": start * 1000,
                    "messaging": [
                        {
                            "sender": {"id": visit.visitor_id},
                            "recipient": {"id": account},
                            "timestamp": (start + 60 * n) * 1000,
                            "message": {"mid": external_id, "text": content},
                        }
                        for n, (external_id, content) in enumerate(items)
                    ],
                }
            ],
        }

    # -- one owner ----------------------------------------------------------------------------

    def seed(self, owner: Owner) -> Tally:
        tally = Tally()
        auth = self.login(owner, tally)
        self.workspace(owner, auth, tally)
        self.services(owner, auth, tally)
        self.connector(owner, auth, tally)
        self.channel_accounts(owner, auth, tally)
        for visit in owner.visits():
            if visit.channel == "web":
                self.web_chat(owner, auth, visit, tally)
            elif visit.visitor_id.startswith("demo-call-"):
                self.owner_conversation(owner, auth, visit, tally)
            else:
                self.inbound(owner, auth, visit, tally)
        return tally


def main() -> int:
    gateway = os.environ.get("SEED_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
    password = os.environ.get("SEED_PASSWORD", "demo-password-123")
    settings = GatewaySettings()
    with httpx.Client(base_url=gateway, timeout=30) as client:
        try:
            ready = client.get("/ready", timeout=5)
        except httpx.HTTPError as exc:
            print(
                f"The gateway at {gateway} is not reachable ({exc.__class__.__name__}).\n"
                "Start the system first with `make run` in another terminal, or point "
                "SEED_GATEWAY_URL at a running gateway.",
                file=sys.stderr,
            )
            return 1
        if ready.status_code != 200:
            print(f"The gateway at {gateway} is not ready: {ready.text[:300]}", file=sys.stderr)
            return 1
        seeder = Seeder(client, settings, password)
        print(f"Seeding demo data through {gateway}")
        try:
            for owner in OWNERS:
                tally = seeder.seed(owner)
                print(f"  {owner.email} ({owner.handle}): {tally.line()}", flush=True)
        except SeedError as exc:
            print(f"Seeding stopped: {exc}", file=sys.stderr)
            return 1
    print(
        "Done. Log in as any of "
        + ", ".join(o.email for o in OWNERS)
        + f" with the password {password!r}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
