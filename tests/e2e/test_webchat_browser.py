"""The web chat page in a real browser (Chromium, headless) against the running system, and
the visitor stream's resume, refusals and log hygiene through the gateway."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Request, async_playwright, expect

from shared.testing import wait_until

from .conftest import System, create_workspace, events, signup

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which("chromium"):
        pytest.fail("chromium is not installed: `make browser` (apt-get install chromium)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        await browser.close()


async def first_conversation(api: httpx.AsyncClient, owner: dict[str, Any]) -> dict[str, Any]:
    async def listed() -> dict[str, Any] | None:
        page = (await api.get("/api/v1/conversations/", headers=owner["headers"])).json()
        return page["data"][0] if page["data"] else None

    return await wait_until(listed)


async def test_visitor_chats_in_the_browser_sees_the_owner_reply_live_and_keeps_it_on_reload(
    system: System, api: httpx.AsyncClient, browser: Browser
) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    page = await browser.new_page()
    await page.goto(f"{system.gateway}/chat/{workspace['handle']}")
    await expect(page.locator("#title")).to_have_text(workspace["name"])

    # Markup in a message is shown as text, never parsed.
    hostile = '<img src=x onerror="window.owned=1">Hello, is Tuesday free?'
    await page.fill("#text", hostile)
    await page.click("#send")
    await expect(page.locator('.message[data-role="visitor"]')).to_have_text(hostile)
    assert await page.locator("#messages img").count() == 0
    await expect(page.locator("#notice")).to_have_text("Online")  # the stream is open

    conversation = await first_conversation(api, owner)
    assert conversation["channel"] == "web"
    started = time.monotonic()
    reply = await api.post(
        "/api/v1/messages/",
        json={"conversation_id": conversation["id"], "content": "Yes, Tuesday at 10 works."},
        headers=owner["headers"],
    )
    assert reply.status_code == 201, reply.text
    owner_line = page.locator('.message[data-role="owner"]')
    await expect(owner_line).to_have_text("Yes, Tuesday at 10 works.", timeout=1000)
    assert time.monotonic() - started < 1.0

    stored = await page.evaluate(
        "handle => localStorage.getItem('webchat:' + handle)", workspace["handle"]
    )
    assert json.loads(stored)["conversationId"] == conversation["id"]
    await page.reload()
    # The agent answers at once too (no calendar here: it hands off); its line is not the point.
    await expect(page.locator('.message:not([data-role="agent"])')).to_have_text(
        [hostile, "Yes, Tuesday at 10 works."], timeout=5000
    )
    await page.fill("#text", "Great, book it")
    await page.click("#send")
    await expect(page.locator('.message[data-role="visitor"]')).to_have_count(2)
    messages = await api.get(
        "/api/v1/messages/",
        params={"conversation_id": conversation["id"]},
        headers=owner["headers"],
    )
    # Still the one conversation after the reload.
    roles = [m["role"] for m in messages.json()["data"] if m["role"] != "agent"]
    assert roles[:3] == ["visitor", "owner", "visitor"]
    assert await page.evaluate("window.owned === undefined")
    await page.close()


async def test_typing_in_the_page_signals_the_agent_before_the_message_is_posted(
    system: System, api: httpx.AsyncClient, browser: Browser
) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    page = await browser.new_page()
    seen: list[tuple[str, str]] = []  # (what, url) in the order the browser reported them

    def is_typing(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith("/typing")

    def is_message(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith("/messages")

    page.on("request", lambda r: seen.append(("message", r.url)) if is_message(r) else None)
    page.on("requestfinished", lambda r: seen.append(("typed", r.url)) if is_typing(r) else None)
    await page.goto(f"{system.gateway}/chat/{workspace['handle']}")
    await expect(page.locator("#title")).to_have_text(workspace["name"])

    # Before the first message there is no conversation to signal: nothing is sent.
    await page.locator("#text").press_sequentially("Hello", delay=20)
    await page.click("#send")
    await expect(page.locator('.message[data-role="visitor"]')).to_have_count(1)
    assert [what for what, _ in seen] == ["message"]
    stored = await page.evaluate(
        "handle => JSON.parse(localStorage.getItem('webchat:' + handle))", workspace["handle"]
    )

    async with page.expect_request(is_typing) as signal:
        await page.locator("#text").press_sequentially("and a beard trim", delay=40)
    request = await signal.value
    response = await request.response()
    assert response is not None and response.status == 204
    assert request.url.endswith(f"/api/v1/public/conversations/{stored['conversationId']}/typing")
    assert await request.header_value("x-visitor-token") == stored["token"]
    await page.click("#send")
    await expect(page.locator('.message[data-role="visitor"]')).to_have_count(2)
    # About 0.7 s of typing is one signal (at most one per 2 s), and it landed before the
    # message was posted: arriving after it, it would read as typing the next one.
    assert [what for what, _ in seen] == ["message", "typed", "message"]
    await page.close()


async def test_the_page_says_clearly_when_the_handle_does_not_exist(
    system: System, browser: Browser
) -> None:
    page = await browser.new_page()
    response = await page.goto(f"{system.gateway}/chat/no-such-business-here")
    assert response is not None and response.status == 200
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    await expect(page.locator("#title")).to_have_text("Chat not found")
    await expect(page.locator("#notice")).to_contain_text("no business at this address")
    assert await page.locator("#send").is_disabled()
    await page.close()


async def test_visitor_stream_through_the_gateway_resumes_refuses_and_keeps_tokens_out_of_logs(
    system: System, api: httpx.AsyncClient
) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    opened = await api.post(f"/api/v1/public/workspaces/{workspace['handle']}/conversations")
    other = await api.post(f"/api/v1/public/workspaces/{workspace['handle']}/conversations")
    assert opened.status_code == other.status_code == 201, opened.text
    conversation_id, token = opened.json()["conversation_id"], opened.json()["visitor_token"]
    url = f"{system.gateway}/api/v1/public/conversations/{conversation_id}/events"
    post_url = f"/api/v1/public/conversations/{conversation_id}/messages"

    async def say(text: str) -> None:
        r = await api.post(post_url, json={"content": text}, headers={"X-Visitor-Token": token})
        assert r.status_code == 201, r.text

    await say("first")
    async with events(url, params={"token": token}) as stream:
        assert (await stream.next())["event"] == "ready"
        last = await stream.next()
        assert last["json"]["content"] == "first"
    for text in ("second", "third"):
        await say(text)
    async with events(url, params={"token": token}, headers={"Last-Event-ID": last["id"]}) as s:
        await s.next()
        resumed: list[str] = []
        while len(resumed) < 2:  # the agent's answer to "first" may come in between
            shown = (await s.next())["json"]
            if shown["role"] == "visitor":
                resumed.append(shown["content"])
        assert resumed == ["second", "third"]

    missing = await api.get(url)
    forged = await api.get(url, params={"token": "x.y.z"})
    foreign = await api.get(url, params={"token": other.json()["visitor_token"]})
    assert (missing.status_code, forged.status_code, foreign.status_code) == (401, 401, 404)

    # The owner's inbox stream from a browser: the access token as a query parameter.
    access = owner["headers"]["Authorization"].removeprefix("Bearer ")
    inbox = f"{system.gateway}/api/v1/conversations/events"
    async with events(inbox, params={"access_token": access}) as stream:
        await stream.next()
        await say("for the owner")
        shown = await stream.next()
        assert (shown["event"], shown["json"]["content"]) == ("message", "for the owner")

    logs = "".join(p.read_text(errors="replace") for p in system.logs.glob("*.log"))
    assert conversation_id in logs  # the requests were logged...
    assert token not in logs and access not in logs  # ...without their credentials
