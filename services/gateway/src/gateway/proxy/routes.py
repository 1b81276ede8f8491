"""Which service owns which public path. The gateway forwards these paths unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern[str]
    service: str
    public: bool = False  # no user login; forwarded as an anonymous principal


def _r(pattern: str, service: str, public: bool = False) -> Route:
    return Route(re.compile(pattern), service, public)


# First match wins: the more specific patterns come first.
ROUTES: tuple[Route, ...] = (
    _r(r"^/api/v1/public/workspaces/[^/]+/conversations(/|$)", "conversations", public=True),
    _r(r"^/api/v1/public/conversations(/|$)", "conversations", public=True),
    _r(r"^/api/v1/public/workspaces(/|$)", "workspaces", public=True),
    _r(r"^/api/v1/webhooks/(calendly|square)(/|$)", "connectors", public=True),
    _r(r"^/api/v1/(workspaces|workspace-services)(/|$)", "workspaces"),
    _r(r"^/api/v1/connectors(/|$)", "connectors"),
    _r(r"^/api/v1/(conversations|messages|channel-accounts|agent|contacts)(/|$)", "conversations"),
    _r(r"^/api/v1/reminders(/|$)", "conversations"),
)


def match(path: str) -> Route | None:
    for route in ROUTES:
        if route.pattern.match(path):
            return route
    return None


# Path prefixes the gateway hands on; `match` then decides the owner (or 404).
FORWARDED_PREFIXES: tuple[str, ...] = (
    "/api/v1/public/",
    "/api/v1/webhooks/calendly",
    "/api/v1/webhooks/square",
    "/api/v1/workspaces",
    "/api/v1/workspace-services",
    "/api/v1/connectors",
    "/api/v1/conversations",
    "/api/v1/messages",
    "/api/v1/channel-accounts",
    "/api/v1/contacts",
    "/api/v1/agent/",
    "/api/v1/reminders",
)
