"""A stolen session cannot take the account by changing its e-mail: the change needs the
current password, applies only when the link sent to the new address is opened (once), the
old address is told, and the change ends every session."""

from __future__ import annotations

import re
import uuid

from shared.testing import wait_until
from tests.security.gateway_app import PASSWORD, gateway, login, signup_and_login, smtp_sink


async def test_email_change_needs_the_password_and_the_new_address_and_ends_sessions(
    identity_database: str,
) -> None:
    tag = uuid.uuid4().hex[:8]
    old, new = f"old-{tag}@example.com", f"new-{tag}@example.com"
    async with (
        smtp_sink() as (mailbox, port),
        gateway(identity_database, smtp_host="127.0.0.1", smtp_port=port) as (_, client),
    ):
        session = await signup_and_login(client, old)
        other_session = await login(client, old, PASSWORD)

        async def email_of(headers: dict[str, str]) -> str:
            response = await client.get("/api/v1/users/me", headers=headers)
            assert response.status_code == 200, response.text
            return str(response.json()["email"])

        # The session alone: no change, and a readable way forward.
        direct = await client.patch("/api/v1/users/me", headers=session, json={"email": new})
        assert direct.status_code == 400, direct.text
        assert "password" in direct.json()["detail"]
        same = await client.patch("/api/v1/users/me", headers=session, json={"email": old})
        assert same.status_code == 200  # an unchanged address is fine
        missing = await client.post(
            "/api/v1/users/me/email", headers=session, json={"new_email": new}
        )
        assert missing.status_code == 422
        wrong = await client.post(
            "/api/v1/users/me/email",
            headers=session,
            json={"new_email": new, "current_password": "not-the-password"},
        )
        assert wrong.status_code == 400, wrong.text
        assert await email_of(session) == old

        # With the password: asked, not applied.
        asked = await client.post(
            "/api/v1/users/me/email",
            headers=session,
            json={"new_email": new, "current_password": PASSWORD},
        )
        assert asked.status_code == 202, asked.text
        assert await email_of(session) == old

        async def confirmation_sent() -> bool:
            return bool(mailbox.to(new))

        await wait_until(confirmation_sent)
        token = re.search(r"confirm-email\?token=([\w.\-]+)", mailbox.html(mailbox.to(new)[0]))
        assert token is not None
        assert any("requested" in m["Subject"] for m in mailbox.to(old))
        assert not any(token.group(1) in mailbox.html(m) for m in mailbox.to(old))

        forged = await client.post(
            "/api/v1/users/email-confirmation", json={"token": token.group(1) + "x"}
        )
        assert forged.status_code == 400
        assert await email_of(session) == old

        # The link's token applies it, once; every session ends.
        confirmed = await client.post(
            "/api/v1/users/email-confirmation", json={"token": token.group(1)}
        )
        assert confirmed.status_code == 200, confirmed.text
        for headers in (session, other_session):
            assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
        again = await client.post(
            "/api/v1/users/email-confirmation", json={"token": token.group(1)}
        )
        assert again.status_code == 400
        assert "already used" in again.json()["detail"]
        fresh = await login(client, new, PASSWORD)
        assert await email_of(fresh) == new
        refused = await client.post(
            "/api/v1/login/access-token", data={"username": old, "password": PASSWORD}
        )
        assert refused.status_code == 400
        assert any("was changed" in m["Subject"] for m in mailbox.to(old))


async def test_a_confirmation_dies_with_a_password_change(identity_database: str) -> None:
    tag = uuid.uuid4().hex[:8]
    old, new = f"pw-{tag}@example.com", f"pw-new-{tag}@example.com"
    async with (
        smtp_sink() as (mailbox, port),
        gateway(identity_database, smtp_host="127.0.0.1", smtp_port=port) as (_, client),
    ):
        session = await signup_and_login(client, old)
        asked = await client.post(
            "/api/v1/users/me/email",
            headers=session,
            json={"new_email": new, "current_password": PASSWORD},
        )
        assert asked.status_code == 202
        token = re.search(r"confirm-email\?token=([\w.\-]+)", mailbox.html(mailbox.to(new)[0]))
        assert token is not None
        # The owner notices and changes the password: the pending link stops working.
        changed = await client.patch(
            "/api/v1/users/me/password",
            headers=session,
            json={"current_password": PASSWORD, "new_password": "another-long-password"},
        )
        assert changed.status_code == 200
        late = await client.post("/api/v1/users/email-confirmation", json={"token": token.group(1)})
        assert late.status_code == 400
        fresh = await login(client, old, "another-long-password")
        assert (await client.get("/api/v1/users/me", headers=fresh)).json()["email"] == old
