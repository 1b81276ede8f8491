"""What an operator sees of the running system: `/metrics` of every service and JSON logs that
carry the request, user, event and trace they belong to, from a webhook to the stored message."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.testing import wait_until
from shared.tracing import new_traceparent, trace_id

from .conftest import (
    META_SECRET,
    METRICS_TOKEN,
    SERVICES,
    System,
    create_workspace,
    fakes,
    signup,
)

Samples = list[tuple[str, dict[str, str], float]]

# What each service consumes: its consumer series must exist (failures at zero included).
CONSUMES = {
    "workspaces": "user.deleted",
    "connectors": "workspace.created",
    "conversations": "inbound_message.accepted",
}
# An event each service publishes through its outbox after the traffic below.
PUBLISHES = {
    "gateway": "user.created",
    "workspaces": "workspace.created",
    "connectors": "connector.activated",
    "conversations": "message.received",
}


def whatsapp(phone_number_id: str, wamid: str, text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "waba-obs",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001111",
                                    "phone_number_id": phone_number_id,
                                },
                                "contacts": [{"profile": {"name": "Lia"}, "wa_id": "4477001"}],
                                "messages": [
                                    {
                                        "from": "4477001",
                                        "id": wamid,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def scrape(system: System, service: str) -> Samples:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(
            f"{system.url(service)}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    assert response.status_code == 200, service
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def values(samples: Samples, name: str, **labels: str) -> list[float]:
    return [
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    ]


def log_lines(system: System, service: str) -> list[dict[str, Any]]:
    """Every line the service wrote; each one must be a JSON object."""
    text = (system.logs / f"{service}.log").read_text(errors="replace")
    lines = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise AssertionError(f"{service} wrote a line that is not JSON: {raw!r}") from None
        assert isinstance(parsed, dict), raw
        lines.append(parsed)
    return lines


async def traffic(api: httpx.AsyncClient) -> dict[str, Any]:
    """Requests through every service, events through every consumer."""
    owner = await signup(api, "observed")
    headers = owner["headers"]
    await create_workspace(api, owner)

    async def connector_created() -> httpx.Response | None:  # once connectors knows it
        response = await api.post(
            "/api/v1/connectors/",
            headers=headers,
            json={"name": "Calendly", "config": {"provider": "calendly", "access_token": "x" * 24}},
        )
        assert response.status_code in (201, 409), response.text
        return response if response.status_code == 201 else None

    created = await wait_until(connector_created)
    activated = await api.post(
        f"/api/v1/connectors/{created.json()['id']}/activate", headers=headers
    )
    assert activated.status_code == 200, activated.text
    phone_number_id = f"pn-obs-{uuid.uuid4().hex[:10]}"

    async def account_connected() -> bool:  # once workspace.created has reached conversations
        response = await api.post(
            "/api/v1/channel-accounts/",
            headers=headers,
            json={
                "channel": "whatsapp",
                "account_id": phone_number_id,
                "credentials": {"access_token": fakes.WHATSAPP_TOKEN},
            },
        )
        return response.status_code == 201

    await wait_until(account_connected)
    body, signed = whatsapp(phone_number_id, f"wamid.obs-{uuid.uuid4().hex}", "Hello")
    webhook = await api.post("/api/v1/webhooks/whatsapp", content=body, headers=signed)
    assert webhook.status_code == 200, webhook.text
    call = await api.post(
        "/api/v1/conversations/", headers=headers, json={"visitor_name": "Caller"}
    )
    assert call.status_code == 201, call.text
    reply = await api.post(
        "/api/v1/messages/",
        headers=headers,
        json={"conversation_id": call.json()["id"], "content": "Thanks for calling"},
    )
    assert reply.status_code == 201, reply.text
    # A user deleted: workspaces consumes user.deleted.
    leaving = await signup(api, "leaving")
    await create_workspace(api, leaving)
    assert (await api.delete("/api/v1/users/me", headers=leaving["headers"])).status_code == 200
    return {"owner": owner, "phone_number_id": phone_number_id}


async def test_every_service_exposes_latency_event_and_outbox_metrics(
    api: httpx.AsyncClient, system: System
) -> None:
    await traffic(api)

    missing: list[str] = []

    async def all_series_present() -> dict[str, Samples] | None:
        scraped = {service: await scrape(system, service) for service in SERVICES}
        missing[:] = []
        for service, samples in scraped.items():
            if not values(samples, "outbox_backlog", service=service):
                missing.append(f"{service}: outbox_backlog")  # measured every few seconds
            if not any(values(samples, "outbox_events_published_total", service=service)):
                missing.append(f"{service}: outbox_events_published_total")
            consumed = CONSUMES.get(service)
            if consumed and not any(
                values(
                    samples, "events_consumed_total", service=service, type=consumed, outcome="ok"
                )
            ):
                missing.append(f"{service}: events_consumed_total {consumed}")
        return None if missing else scraped

    try:
        scraped = await wait_until(all_series_present, timeout=30)
    except AssertionError:
        raise AssertionError(f"missing series: {missing}") from None
    for service, samples in scraped.items():
        # Request latency as a histogram, labelled by route template, with real requests in it.
        counts = {
            labels["route"]: value
            for name, labels, value in samples
            if name == "http_request_duration_seconds_count" and labels["service"] == service
        }
        assert any(v > 0 for route, v in counts.items() if route.startswith("/api/v1")), (
            service,
            counts,
        )
        assert values(
            samples, "http_request_duration_seconds_bucket", service=service, le="+Inf"
        ), service
        assert "unmatched" not in {r for r, v in counts.items() if v and r.startswith("/api/v1/")}
        published = values(
            samples, "outbox_events_published_total", service=service, type=PUBLISHES[service]
        )
        assert published and published[0] > 0, (service, PUBLISHES[service])
        # Present from the start (a broker outage earlier in the run may have counted some).
        assert len(values(samples, "outbox_publish_failures_total", service=service)) == 1
        [backlog] = values(samples, "outbox_backlog", service=service)
        [age] = values(samples, "outbox_oldest_age_seconds", service=service)
        assert backlog >= 0 and age >= 0
        if service in CONSUMES:
            for outcome in ("ok", "failed", "dead_lettered"):
                assert values(
                    samples,
                    "events_consumed_total",
                    service=service,
                    type=CONSUMES[service],
                    outcome=outcome,
                ), (service, outcome)
    # Concrete routes, not raw paths: one series per template however many ids pass through.
    workspaces_routes = {
        labels["route"]
        for name, labels, _ in scraped["workspaces"]
        if name == "http_request_duration_seconds_count"
    }
    assert "/api/v1/workspaces/" in workspaces_routes


async def test_a_webhook_trace_reaches_the_stored_message_in_the_logs(
    api: httpx.AsyncClient, system: System, db
) -> None:
    setup = await traffic(api)
    traceparent = new_traceparent()
    trace = trace_id(traceparent)
    wamid = f"wamid.obs-{uuid.uuid4().hex}"
    body, headers = whatsapp(setup["phone_number_id"], wamid, "Do you have time on Friday?")
    request_id = f"obs-{uuid.uuid4().hex[:12]}"
    response = await api.post(
        "/api/v1/webhooks/whatsapp",
        content=body,
        headers=headers | {"traceparent": traceparent, "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id

    async def consumed_line() -> dict[str, Any] | None:
        for line in log_lines(system, "conversations"):
            if line.get("logger") == "consumer" and line.get("trace_id") == trace:
                return line
        return None

    line = await wait_until(consumed_line, timeout=20)
    assert line["event_type"] == "inbound_message.accepted"
    assert line["outcome"] == "ok"
    # The consumed line names the event that stored the message, which is the one published.
    from sqlalchemy import text

    async with db.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT m.id, i.event_id FROM conversations.messages m "
                    "JOIN conversations.inbox i ON i.event_id = CAST(:event_id AS uuid) "
                    "WHERE m.external_id = :wamid"
                ),
                {"event_id": line["event_id"], "wamid": wamid},
            )
        ).all()
    assert len(stored) == 1, "the message this event carried is stored, once"
    # The gateway's own line for the webhook carries the same trace and the caller's request id.
    gateway = [
        g
        for g in log_lines(system, "gateway")
        if g.get("logger") == "access" and g.get("request_id") == request_id
    ]
    assert len(gateway) == 1
    assert gateway[0]["trace_id"] == trace
    assert gateway[0]["status"] == 200


async def test_log_lines_are_json_with_request_and_user_ids(
    api: httpx.AsyncClient, system: System
) -> None:
    owner = await signup(api, "logged")
    request_id = f"obs-{uuid.uuid4().hex[:12]}"
    handle = f"logged-{uuid.uuid4().hex[:8]}"
    created = await api.post(
        "/api/v1/workspaces/",
        headers=owner["headers"] | {"X-Request-ID": request_id},
        json={"handle": handle, "name": "Logged", "timezone": "Europe/Lisbon"},
    )
    assert created.status_code == 201, created.text

    async def forwarded_line() -> dict[str, Any] | None:
        for line in log_lines(system, "workspaces"):
            if line.get("logger") == "access" and line.get("request_id") == request_id:
                return line
        return None

    # The service's access line: same request id as at the gateway, the caller, the outcome.
    line = await wait_until(forwarded_line)
    assert line["user_id"] == owner["id"]
    assert line["status"] == 201
    assert line["msg"].startswith("POST /api/v1/workspaces/")
    assert isinstance(line["duration_ms"], float | int)
    assert line["trace_id"]
    gateway = [
        g
        for g in log_lines(system, "gateway")
        if g.get("logger") == "access" and g.get("request_id") == request_id
    ]
    assert len(gateway) == 1 and gateway[0]["trace_id"] == line["trace_id"]

    # The event that request caused, consumed elsewhere: its event id and the same trace.
    async def consumed_lines() -> list[dict[str, Any]] | None:
        found = [
            c
            for service in ("connectors", "conversations")
            for c in log_lines(system, service)
            if c.get("logger") == "consumer" and c.get("trace_id") == line["trace_id"]
        ]
        return found if len(found) >= 2 else None

    consumed = await wait_until(consumed_lines, timeout=20)
    assert {c["event_type"] for c in consumed} == {"workspace.created"}
    assert len({c["event_id"] for c in consumed}) == 1  # one event, seen by both consumers
    assert all("request_id" not in c for c in consumed)
    # And nothing any service wrote is anything but a JSON object.
    for service in SERVICES:
        log_lines(system, service)
