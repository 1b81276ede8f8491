"""A POST the service applied is never applied twice because its connection closed before the
answer: the gateway resends only idempotent methods (RFC 9112 §9.3.1) and says the outcome of
the other ones is unknown (502), rather than "retry shortly"."""

from __future__ import annotations

import asyncio
import uuid

from tests.security.gateway_app import gateway, signup_and_login

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]"


class ApplyThenHangUp:
    """A service that answers reads on a kept connection, and applies each write, then
    closes the connection without answering (a crash, or a proxy in between timing out)."""

    def __init__(self) -> None:
        self.applied: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method = head.split(b" ", 1)[0]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if method == b"GET":
                    writer.write(OK)
                    await writer.drain()
                    continue
                self.applied.append(body)
                break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def test_a_post_whose_connection_closes_unanswered_is_applied_once(
    identity_database: str,
) -> None:
    upstream = ApplyThenHangUp()
    async with upstream as url, gateway(identity_database, workspaces_url=url) as (_, client):
        headers = await signup_and_login(client, f"replay-{uuid.uuid4().hex[:8]}@example.com")
        # A read first, so the gateway holds a kept connection to the service.
        assert (await client.get("/api/v1/workspaces/", headers=headers)).status_code == 200
        response = await client.post(
            "/api/v1/workspaces/", headers=headers, json={"handle": "once", "name": "Once"}
        )
    assert len(upstream.applied) == 1, "the write reached the service exactly once"
    assert response.status_code == 502, response.text
    assert "may have been applied" in response.json()["detail"]
