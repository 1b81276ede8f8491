"""Broken object-level authorization, generated from the OpenAPI document.

Every path with a `{param}` and every method on it: a second owner's token on the first
owner's objects answers 404, never 200 and never data. Paths added later are covered without
anyone writing a test; a new kind of path parameter fails until tests/security/objects.py
knows how to create one.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.security.objects import NOT_OWNED, make_owner, objects_of

PARAM = re.compile(r"{([^}]+)}")
METHODS = ("get", "put", "post", "patch", "delete")


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    found = []
    for path, item in openapi["paths"].items():
        params = PARAM.findall(path)
        if not params:
            continue
        for method in METHODS:
            if method in item:
                found.append((path, method, params, item[method]))
    return found


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def minimal(openapi: dict[str, Any], schema: dict[str, Any] | None) -> Any:
    """The smallest body the schema accepts, so validation never answers before ownership."""
    if schema is None:
        return None
    schema = resolve(openapi, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return minimal(openapi, options[0]) if options else None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal(openapi, props[k]) for k in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    if schema.get("format") == "date-time":
        return "2030-01-01T10:00:00Z"
    if schema.get("format") == "email":
        return "someone@example.com"
    return "x" * max(1, int(schema.get("minLength", 1)))


def body_of(openapi: dict[str, Any], op: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return minimal(openapi, content["application/json"].get("schema"))


async def test_a_second_owner_gets_404_on_every_object_of_the_first(
    gw: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    ops = operations(openapi)
    params = {p for _, _, names, _ in ops for p in names}
    victim = await make_owner(gw, "victim")
    attacker = await make_owner(gw, "attacker")
    objects = await objects_of(gw, victim, params)
    leaks, covered = [], 0
    # Deletes last, so every other method meets the objects still there.
    for path, method, names, op in sorted(ops, key=lambda o: o[1] == "delete"):
        if any(n in NOT_OWNED for n in names):
            continue
        url = path.format(**objects)
        body = body_of(openapi, op)
        response = await gw.request(
            method.upper(),
            url,
            headers=attacker["headers"],
            **({"json": body} if body is not None else {}),
        )
        covered += 1
        public = path.startswith("/api/v1/public/")
        # Public visitor paths take a visitor token, not an owner's: a 401 there is right.
        allowed = {401, 404} if public else {404}
        if response.status_code == 403 and not public:
            # Superuser-only routes refuse everyone else whatever the id: a 403 that an id
            # nobody has gets too says nothing about the victim's object.
            nobody = path.format(**dict.fromkeys(objects, str(uuid.uuid4())))
            same = await gw.request(
                method.upper(),
                nobody,
                headers=attacker["headers"],
                **({"json": body} if body is not None else {}),
            )
            if same.status_code == 403 and same.json() == response.json():
                continue
        if response.status_code not in allowed:
            leaks.append(f"{method.upper()} {path}: {response.status_code} {response.text[:200]}")
    print(f"BOLA matrix: {covered} operations checked")
    assert covered >= 20, "the OpenAPI document lost its object paths?"
    assert not leaks, "\n".join(leaks)
    # And nothing of the victim's was touched by the attacker's deletes.
    for path in ("/api/v1/workspaces/me", f"/api/v1/connectors/{objects['connector_id']}"):
        response = await gw.get(path, headers=victim["headers"])
        assert response.status_code == 200, (path, response.text)
    conversation = await gw.get(
        f"/api/v1/conversations/{objects['conversation_id']}", headers=victim["headers"]
    )
    assert conversation.status_code == 200
    contact = await gw.get(f"/api/v1/contacts/{objects['contact_id']}", headers=victim["headers"])
    assert contact.status_code == 200 and contact.json()["name"] == "Vera"
    bookings = await gw.get("/api/v1/connectors/active/bookings", headers=victim["headers"])
    (booking,) = [b for b in bookings.json()["data"] if b["id"] == objects["booking_id"]]
    assert booking["status"] == "confirmed" and booking["attendance"] is None
    assert booking["visitor_confirmed_at"] is None


def test_every_path_parameter_has_a_creator_or_a_reason(openapi: dict[str, Any]) -> None:
    from tests.security.objects import CREATORS

    params = {p for _, _, names, _ in operations(openapi) for p in names}
    assert params <= CREATORS.keys() | NOT_OWNED.keys(), params - CREATORS.keys() - NOT_OWNED.keys()
