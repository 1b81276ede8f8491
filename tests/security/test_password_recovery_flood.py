"""Password recovery cannot be used to flood an inbox or probe for accounts: requests are
limited per address asked about and per client address (429 with Retry-After and a readable
detail), counted alike whether or not the account exists, and the address travels in the
body (`POST /password-recovery {"email"}`); the old path form is deprecated, with the same
limits."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from shared.testing import wait_until
from tests.security.gateway_app import Mailbox, gateway, signup_and_login, smtp_sink

PER_ADDRESS = 3
PER_CLIENT = 8


@asynccontextmanager
async def recovery_gateway(database_url: str) -> AsyncIterator[tuple[FastAPI, Mailbox]]:
    async with (
        smtp_sink() as (mailbox, port),
        gateway(
            database_url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            password_recovery_per_address_per_hour=PER_ADDRESS,
            password_recovery_per_client_per_hour=PER_CLIENT,
        ) as (app, _),
    ):
        yield app, mailbox


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def a_client_address() -> str:
    """A client address no earlier run used: the limits count per hour in the database, and
    a run within the hour of another must not meet its counts."""
    return str(ipaddress.IPv6Address("2001:db8::") + uuid.uuid4().int % 2**96)


async def test_a_burst_for_one_address_sends_a_few_e_mails_then_429_alike_for_unknown_ones(
    identity_database: str,
) -> None:
    async with recovery_gateway(identity_database) as (app, mailbox):
        known = f"known-{uuid.uuid4().hex[:8]}@example.com"
        unknown = f"unknown-{uuid.uuid4().hex[:8]}@example.com"
        async with client_from(app, a_client_address()) as signup:
            await signup_and_login(signup, known)
        answers: dict[str, list[httpx.Response]] = {}
        for email in (known, unknown):
            # From many client addresses, as a botnet would: the per-address limit holds.
            async with client_from(app, a_client_address()) as client:
                answers[email] = list(
                    await asyncio.gather(
                        *(
                            client.post("/api/v1/password-recovery", json={"email": email})
                            for _ in range(25)
                        )
                    )
                )
        for email, responses in answers.items():
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * PER_ADDRESS + [429] * (25 - PER_ADDRESS), (email, statuses)
            refused = next(r for r in responses if r.status_code == 429)
            assert 0 < int(refused.headers["Retry-After"]) <= 3600
            assert "password recovery" in refused.json()["detail"]
        # Nothing tells the two apart: same answers, same counts.
        for status in (200, 429):
            bodies = {
                email: {r.text for r in responses if r.status_code == status}
                for email, responses in answers.items()
            }
            assert bodies[known] == bodies[unknown]

        def recoveries(email: str) -> list[str]:
            subjects = [m["Subject"] for m in mailbox.to(email)]
            return [s for s in subjects if "Password recovery" in s]

        async def sent() -> int:
            return len(recoveries(known))

        await wait_until(sent)  # the positive signal: e-mails did go out
        # (background tasks run inside each in-process request, so all have been sent)
        assert len(recoveries(known)) == PER_ADDRESS
        assert mailbox.to(unknown) == []


async def test_one_client_is_limited_across_addresses_and_the_old_path_shares_the_limits(
    identity_database: str,
) -> None:
    async with recovery_gateway(identity_database) as (app, _):
        async with client_from(app, a_client_address()) as client:
            statuses = [
                (
                    await client.post(
                        "/api/v1/password-recovery",
                        json={"email": f"spray-{i}-{uuid.uuid4().hex[:6]}@example.com"},
                    )
                ).status_code
                for i in range(PER_CLIENT + 2)
            ]
            assert statuses == [200] * PER_CLIENT + [429, 429], statuses
        target = f"path-{uuid.uuid4().hex[:8]}@example.com"
        async with client_from(app, a_client_address()) as client:
            for _ in range(PER_ADDRESS):
                ok = await client.post("/api/v1/password-recovery", json={"email": target})
                assert ok.status_code == 200
            old = await client.post(f"/api/v1/password-recovery/{target}")
            assert old.status_code == 429, old.text
            assert old.headers["Retry-After"]
            bad = await client.post("/api/v1/password-recovery", json={"email": "not an address"})
            assert bad.status_code == 422
            document = (await client.get("/api/v1/openapi.json")).json()
        assert document["paths"]["/api/v1/password-recovery/{email}"]["post"]["deprecated"] is True
        assert "deprecated" not in document["paths"]["/api/v1/password-recovery"]["post"]
