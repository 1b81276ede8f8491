from __future__ import annotations

import re
import time
import uuid

import httpx
import jwt
from sqlalchemy import select

from gateway.db.models import User, outbox
from gateway.settings import Settings
from shared.testing import wait_until

from .conftest import SUPERUSER, Mailbox, login


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@Example.com"


async def test_signup_login_and_me(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/users/signup",
        json={"email": email, "password": "long-enough-pw", "full_name": "Grace"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == email.lower()
    assert body["is_superuser"] is False
    assert "password" not in str(body).lower()
    headers = await login(client, email.upper(), "long-enough-pw")
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]
    tested = await client.post("/api/v1/login/test-token", headers=headers)
    assert tested.json()["email"] == email.lower()


async def test_email_is_unique_regardless_of_case(client: httpx.AsyncClient) -> None:
    email = unique_email()
    first = await client.post("/api/v1/users/signup", json={"email": email, "password": "x" * 10})
    assert first.status_code == 201
    again = await client.post(
        "/api/v1/users/signup", json={"email": email.upper(), "password": "y" * 10}
    )
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


async def test_signup_rejects_bad_input_readably(client: httpx.AsyncClient) -> None:
    bad_email = await client.post(
        "/api/v1/users/signup", json={"email": "not-an-email", "password": "x" * 10}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["detail"][0]["loc"] == ["body", "email"]
    short = await client.post(
        "/api/v1/users/signup", json={"email": unique_email(), "password": "short"}
    )
    assert short.status_code == 422
    assert "at least 8" in short.json()["detail"][0]["msg"]


async def test_password_is_stored_as_argon2id(client: httpx.AsyncClient, app) -> None:
    email = unique_email()
    await client.post("/api/v1/users/signup", json={"email": email, "password": "p" * 12})
    async with app.state.runtime.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.email == email.lower()))
    assert user.hashed_password.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_wrong_password_and_unknown_email_answer_the_same(
    client: httpx.AsyncClient, owner
) -> None:
    wrong = await client.post(
        "/api/v1/login/access-token", data={"username": owner["email"], "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/login/access-token",
        data={"username": unique_email("ghost"), "password": "nope-nope"},
    )
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}


def client_from(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def attempt(app, address: str, email: str, password: str) -> httpx.Response:
    async with client_from(app, address) as someone:
        return await someone.post(
            "/api/v1/login/access-token", data={"username": email, "password": password}
        )


def random_address(prefix: str = "10.0.0") -> str:
    return f"{prefix}.{uuid.uuid4().int % 250 + 1}"


async def test_failed_logins_lock_one_account_at_one_address_only(app, owner) -> None:
    here, elsewhere = random_address("10.1.0"), random_address("10.2.0")
    for _ in range(3):
        assert (await attempt(app, here, owner["email"], "wrong-password")).status_code == 400
    blocked = await attempt(app, here, owner["email"], owner["password"])
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 61
    # The owner at another address still gets in.
    assert (await attempt(app, elsewhere, owner["email"], owner["password"])).status_code == 200


async def test_a_sprayer_at_a_shared_address_only_slows_its_neighbours_down(app, owner) -> None:
    shared = random_address("192.0.2")
    for _ in range(7):  # past the per-address threshold (6), many accounts
        response = await attempt(app, shared, unique_email("spray"), "guess-guess")
        assert response.status_code in (400, 429)
    slowed = await attempt(app, shared, unique_email("spray"), "guess-guess")
    assert slowed.status_code == 429
    assert 1 <= int(slowed.headers["retry-after"]) <= 2  # slowed down, not locked for 60 s

    async def neighbour_gets_in() -> bool:
        response = await attempt(app, shared, owner["email"], owner["password"])
        return response.status_code == 200

    await wait_until(neighbour_gets_in, timeout=5, interval=0.25)
    # Another address never noticed.
    other = await attempt(app, "198.51.100.7", unique_email("other"), "guess-guess")
    assert other.status_code == 400


async def test_a_distributed_guesser_slows_one_account_without_locking_it(app, owner) -> None:
    for _ in range(6):  # per-account threshold, each guess from a fresh address
        await attempt(app, random_address("172.16.0"), owner["email"], "wrong-password")
    slowed = await attempt(app, random_address("172.17.0"), owner["email"], "wrong-password")
    assert slowed.status_code == 429
    assert int(slowed.headers["retry-after"]) <= 2

    async def owner_gets_in() -> bool:
        response = await attempt(app, random_address("172.18.0"), owner["email"], owner["password"])
        return response.status_code == 200

    await wait_until(owner_gets_in, timeout=5, interval=0.25)


async def test_missing_wrong_and_expired_tokens_are_401(
    client: httpx.AsyncClient, settings: Settings, owner
) -> None:
    assert (await client.get("/api/v1/users/me")).status_code == 401
    garbage = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer garbage"})
    assert garbage.status_code == 401
    now = int(time.time())
    expired = jwt.encode(
        {
            "sub": owner["id"],
            "typ": "access",
            "iss": "base-platform",
            "aud": "base-platform-api",
            "iat": now - 7200,
            "exp": now - 3600,
        },
        settings.secret_key,
        algorithm="HS256",
    )
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    none_alg = jwt.encode({"sub": owner["id"], "typ": "access"}, key=None, algorithm="none")
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {none_alg}"})
    assert response.status_code == 401


async def test_password_recovery_mail_resets_password_once(
    client: httpx.AsyncClient, owner, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    response = await client.post(f"/api/v1/password-recovery/{owner['email']}")
    assert response.status_code == 200

    async def mail_arrived():
        return box.to(owner["email"]) and [
            m for m in box.to(owner["email"]) if "recovery" in m["Subject"]
        ]

    mails = await wait_until(mail_arrived)
    html = mails[-1].get_payload()[-1].get_payload(decode=True).decode()
    assert owner["password"] not in html
    token = re.search(r"reset-password\?token=([\w\-\.]+)", html).group(1)

    # A reset token is not an access token.
    as_access = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert as_access.status_code == 401

    reset = await client.post(
        "/api/v1/reset-password/", json={"token": token, "new_password": "brand-new-password"}
    )
    assert reset.status_code == 200, reset.text
    # Sessions signed in with the old password end with it.
    assert (await client.get("/api/v1/users/me", headers=owner["headers"])).status_code == 401
    await login(client, owner["email"], "brand-new-password")
    again = await client.post(
        "/api/v1/reset-password/", json={"token": token, "new_password": "another-password"}
    )
    assert again.status_code == 400
    assert "Invalid or expired" in again.json()["detail"]


async def test_recovery_answers_the_same_for_unknown_addresses(client: httpx.AsyncClient, owner):
    known = await client.post(f"/api/v1/password-recovery/{owner['email']}")
    unknown = await client.post(f"/api/v1/password-recovery/{unique_email('nobody')}")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()


async def test_access_token_is_not_a_reset_token(client: httpx.AsyncClient, owner) -> None:
    access = owner["headers"]["Authorization"].removeprefix("Bearer ")
    response = await client.post(
        "/api/v1/reset-password/", json={"token": access, "new_password": "whatever-pass"}
    )
    assert response.status_code == 400


async def test_new_account_mail_never_contains_the_password(
    client: httpx.AsyncClient, owner, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    mails = await wait_until(lambda: _async(box.to(owner["email"])))
    for mail in mails:
        for part in mail.walk():
            payload = part.get_payload(decode=True)
            if payload:
                assert owner["password"].encode() not in payload


async def _async(value):
    return value


async def test_update_profile_and_password(client: httpx.AsyncClient, owner) -> None:
    headers = owner["headers"]
    response = await client.patch(
        "/api/v1/users/me",
        headers=headers,
        json={
            "business_name": "Acme Consulting",
            "tagline": "We fix things",
            "phone": "+1 415 555 0100",
            "website": "https://acme.example",
            "social_links": {"instagram": "https://instagram.com/acme"},
            "setup_completed": True,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["business_name"] == "Acme Consulting"
    assert body["social_links"] == {"instagram": "https://instagram.com/acme"}
    assert body["setup_completed"] is True
    bad = await client.patch(
        "/api/v1/users/me", headers=headers, json={"social_links": {"x": "not a url"}}
    )
    assert bad.status_code == 422

    wrong = await client.patch(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": "not-it-at-all", "new_password": "new-password-1"},
    )
    assert wrong.status_code == 400
    ok = await client.patch(
        "/api/v1/users/me/password",
        headers=headers,
        json={"current_password": owner["password"], "new_password": "new-password-1"},
    )
    assert ok.status_code == 200
    await login(client, owner["email"], "new-password-1")


async def test_superuser_administers_users(client: httpx.AsyncClient, superuser_headers, owner):
    listed = await client.get("/api/v1/users/?limit=500", headers=superuser_headers)
    assert listed.status_code == 200
    assert listed.json()["count"] >= 2
    assert SUPERUSER in {u["email"] for u in listed.json()["data"]}
    created = await client.post(
        "/api/v1/users/",
        headers=superuser_headers,
        json={"email": unique_email("staff"), "password": "staff-password", "is_superuser": False},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    patched = await client.patch(
        f"/api/v1/users/{user_id}", headers=superuser_headers, json={"full_name": "Staff"}
    )
    assert patched.json()["full_name"] == "Staff"
    deleted = await client.delete(f"/api/v1/users/{user_id}", headers=superuser_headers)
    assert deleted.status_code == 200
    gone = await client.get(f"/api/v1/users/{user_id}", headers=superuser_headers)
    assert gone.status_code == 404


async def test_normal_users_cannot_administer(client: httpx.AsyncClient, owner, superuser_headers):
    headers = owner["headers"]
    assert (await client.get("/api/v1/users/", headers=headers)).status_code == 403
    me = await client.get("/api/v1/users/me", headers=superuser_headers)
    other = await client.get(f"/api/v1/users/{me.json()['id']}", headers=headers)
    assert other.status_code == 404
    assert (await client.get(f"/api/v1/users/{owner['id']}", headers=headers)).status_code == 200


async def test_superuser_cannot_delete_themselves(client: httpx.AsyncClient, superuser_headers):
    response = await client.delete("/api/v1/users/me", headers=superuser_headers)
    assert response.status_code == 403


async def test_signup_and_delete_emit_user_events(client: httpx.AsyncClient, app, owner) -> None:
    response = await client.delete("/api/v1/users/me", headers=owner["headers"])
    assert response.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=owner["headers"])).status_code == 401
    async with app.state.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.event_type, outbox.c.envelope)
                .where(outbox.c.aggregate_id == owner["id"])
                .order_by(outbox.c.id)
            )
        ).all()
    assert [r.event_type for r in rows] == ["user.created", "user.deleted"]
    assert rows[1].envelope["payload"] == {"user_id": owner["id"]}


async def test_first_superuser_is_created_once(app, settings: Settings) -> None:
    from gateway.db.uow import IdentityUnitOfWork
    from gateway.usecases.users import ensure_first_superuser

    created = await ensure_first_superuser(
        IdentityUnitOfWork(app.state.runtime.sessionmaker),
        app.state.hasher,
        settings.first_superuser,
        "another-password",
    )
    assert created is False
