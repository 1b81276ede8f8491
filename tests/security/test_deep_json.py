"""Bodies built to crash the gateway's own inspection answer 400/422, never 500: JSON nested
100,000 deep (with a `\\u0000`, which makes the input check parse it), and signed Meta
notifications nested as deep or carrying times no clock holds (1e400, 10**30)."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from tests.security.gateway_app import gateway

DEPTH = 100_000


def nested(depth: int = DEPTH) -> str:
    return '{"name": "\\u0000", "deep": ' + "[" * depth + "]" * depth + "}"


def signed(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "content-type": "application/json"}


def whatsapp(timestamp: object) -> str:
    # The number is spliced in as written: 1e400 is valid JSON that parses to infinity.
    message = '{"from": "34600000000", "id": "wamid.1", "type": "text", "text": {"body": "hi"}, '
    return (
        '{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", '
        '"value": {"metadata": {"phone_number_id": "1"}, "messages": ['
        + message
        + f'"timestamp": {timestamp}'
        + "}]}}]}]}"
    )


def messenger(timestamp: object, watermark: object = None) -> str:
    event = {"sender": {"id": "1"}, "recipient": {"id": "2"}}
    body = json.dumps({"object": "page", "entry": [{"id": "9", "messaging": [event]}]})
    inner = '"timestamp": ' + str(timestamp)
    if watermark is None:
        inner += ', "message": {"mid": "m.1", "text": "hi"}'
    else:
        inner += ', "delivery": {"watermark": ' + str(watermark) + "}"
    return body.replace('"recipient": {"id": "2"}', '"recipient": {"id": "2"}, ' + inner)


async def test_deeply_nested_json_with_a_nul_is_a_422_on_every_route(
    identity_database: str,
) -> None:
    async with gateway(identity_database) as (_, client):
        for path in ("/api/v1/users/signup", "/api/v1/workspaces/", "/api/v1/login/test-token"):
            response = await client.post(
                path, content=nested(), headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (path, response.text)
            assert "nested" in response.json()["detail"]
        # Deep but within the parser's reach: still refused, by the same check.
        response = await client.post(
            "/api/v1/users/signup",
            content=nested(500),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text


async def test_signed_meta_payloads_nested_deep_or_out_of_time_are_a_400(
    identity_database: str,
) -> None:
    async with gateway(identity_database) as (app, client):
        secret = app.state.settings.meta_app_secret

        async def post(path: str, body: str) -> httpx.Response:
            raw = body.encode()
            return await client.post(path, content=raw, headers=signed(secret, raw))

        deep = '{"object": "page", "entry": ' + "[" * DEPTH + "]" * DEPTH + "}"
        cases = [
            ("/api/v1/webhooks/messenger", deep),
            ("/api/v1/webhooks/whatsapp", deep.replace('"page"', '"whatsapp_business_account"')),
            ("/api/v1/webhooks/whatsapp", whatsapp("1e400")),
            ("/api/v1/webhooks/whatsapp", whatsapp(10**30)),
            ("/api/v1/webhooks/whatsapp", whatsapp("-1e400")),
            ("/api/v1/webhooks/messenger", messenger("1e400")),
            ("/api/v1/webhooks/messenger", messenger(10**30)),
            ("/api/v1/webhooks/messenger", messenger(10**400)),
            ("/api/v1/webhooks/messenger", messenger(0, watermark=10**30)),
            (
                "/api/v1/webhooks/instagram",
                messenger(0, watermark="1e400").replace("page", "instagram"),
            ),
        ]
        for path, body in cases:
            response = await post(path, body)
            assert response.status_code == 400, (path, body[:200], response.text)
            assert response.json()["detail"], response.text
