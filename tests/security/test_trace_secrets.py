"""Credentials in URLs never reach the trace collector: the owner's `?access_token=`, a
visitor's `?token=`, and any secret-looking parameter (code, signature, key, password,
secret...) are exported as REDACTED, and an e-mail address in a path too. Checked on what an
OTLP collector on loopback actually receives from a gateway with tracing on."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from shared import telemetry
from shared.testing import wait_until
from tests.security.gateway_app import gateway, signup_and_login


class Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert telemetry.provider() is None, "another test left tracing on"
    telemetry.configure(
        "gateway", f"http://127.0.0.1:{server.server_port}", sampler_name="always_on"
    )
    try:
        yield server
    finally:
        provider = telemetry.provider()
        telemetry.uninstall()
        if provider is not None:
            provider.shutdown()
        server.shutdown()


def attributes(received: list[bytes]) -> list[dict[str, str]]:
    found = []
    for body in received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    found.append({a.key: a.value.string_value for a in span.attributes})
    return found


async def test_tokens_and_secret_parameters_are_redacted_before_export(
    identity_database: str, collector: HTTPServer
) -> None:
    visitor_token = f"visitor-{uuid.uuid4().hex}"
    secrets = [visitor_token, "oauth-code-1", "signature-2", "api-key-3", "hunter2", "shh-4"]
    async with gateway(identity_database) as (_, client):
        headers = await signup_and_login(client, f"trace-{uuid.uuid4().hex[:8]}@example.com")
        access_token = headers["Authorization"].removeprefix("Bearer ")
        secrets.append(access_token)
        # Nothing listens behind this gateway: each answer is a 503, after the request span.
        owner = await client.get(f"/api/v1/conversations/events?access_token={access_token}")
        visitor = await client.get(
            f"/api/v1/public/conversations/{uuid.uuid4()}/events?token={visitor_token}"
        )
        other = await client.get(
            "/api/v1/workspaces/?code=oauth-code-1&signature=signature-2&api_key=api-key-3"
            "&password=hunter2&client_secret=shh-4&skip=0",
            headers=headers,
        )
        address = "victim@example.com"
        await client.post(f"/api/v1/password-recovery/{address}")
        secrets.append(address)
    assert {owner.status_code, visitor.status_code, other.status_code} == {503}
    telemetry.flush()
    received: list[bytes] = collector.received  # type: ignore[attr-defined]

    def queries() -> list[str]:
        return [a["url.query"] for a in attributes(received) if "url.query" in a]

    async def three_queries_exported() -> bool:
        return len(queries()) >= 3

    # The positive signal first: the request spans were exported, with their queries.
    await wait_until(three_queries_exported, timeout=10)
    assert any(q.startswith("access_token=REDACTED") for q in queries()), queries()
    assert any("skip=0" in q for q in queries()), "harmless parameters are kept"
    exported = b"".join(received)
    for secret in secrets:
        assert secret.encode() not in exported, f"{secret!r} was exported"
