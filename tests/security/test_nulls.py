"""`null` for any field of any write, generated from the OpenAPI document, never bricks a record.

For every operation with a JSON body, each field is sent as null on the caller's own objects
(created through tests/security/objects.py); whatever the write answers (a 2xx, or a 422 where
null is not allowed), every read of that object and its collection still answers 200, never 500.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.security.objects import NOT_OWNED, make_owner, objects_of
from tests.security.test_bola import PARAM, minimal, resolve

WRITES = ("post", "put", "patch")
# Writes that are not about a stored model (credentials, tokens, signed webhooks) or that would
# end the caller's session halfway through the run.
SKIPPED = re.compile(r"/(login|password-recovery|reset-password|webhooks|password)(/|$)|/signup$")


def body_fields(openapi: dict[str, Any], op: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return {}, []
    resolved = resolve(openapi, schema)
    for key in ("anyOf", "oneOf"):
        if key in resolved:
            options = [s for s in resolved[key] if s.get("type") != "null"]
            resolved = resolve(openapi, options[0]) if options else {}
    return resolved, sorted(resolved.get("properties", {}))


def reads_for(openapi: dict[str, Any], path: str, created_id: str | None) -> list[str]:
    """The GET paths that show what a write on `path` changed."""
    paths = openapi["paths"]
    reads = []
    if "get" in paths.get(path, {}):
        reads.append(path)
    parent = re.sub(r"/{[^}]+}(/.*)?$", "/", path)
    if parent != path and "get" in paths.get(parent, {}):
        reads.append(parent)
    if created_id is not None:
        for candidate in paths:
            params = PARAM.findall(candidate)
            if (
                "get" in paths[candidate]
                and len(params) == 1
                and candidate.rstrip("/").rsplit("/", 1)[0] + "/" == path
            ):
                reads.append(candidate.replace("{" + params[0] + "}", created_id))
    return reads


async def test_null_in_any_field_of_any_write_leaves_every_read_working(
    gw: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    owner = await make_owner(gw, "nulls")
    ops = [
        (path, method, item[method])
        for path, item in openapi["paths"].items()
        for method in WRITES
        if method in item and not SKIPPED.search(path) and not path.startswith("/api/v1/public/")
    ]
    params = {p for path, _, _ in ops for p in PARAM.findall(path)}
    objects = await objects_of(gw, owner, params)
    broken, writes = [], 0
    for path, method, op in ops:
        if any(p in NOT_OWNED for p in PARAM.findall(path)):
            continue
        schema, fields = body_fields(openapi, op)
        base = minimal(openapi, schema) if schema else None
        url = path.format(**objects)
        for field in fields:
            body = {**(base or {}), field: None}
            response = await gw.request(method.upper(), url, headers=owner["headers"], json=body)
            writes += 1
            if response.status_code >= 500:
                broken.append(f"{method.upper()} {path} {{{field}: null}}: {response.status_code}")
                continue
            created = response.json().get("id") if response.status_code == 201 else None
            for read in reads_for(openapi, path, created):
                got = await gw.get(read.format(**objects), headers=owner["headers"])
                # The object's own read must answer; a collection only must not fail.
                own = read == path and bool(PARAM.findall(path))
                if got.status_code >= 500 or (own and got.status_code != 200):
                    broken.append(
                        f"{method.upper()} {path} {{{field}: null}} -> GET {read}: "
                        f"{got.status_code} {got.text[:120]}"
                    )
    print(f"null checks: {writes} writes")
    assert writes >= 30
    assert not broken, "\n".join(broken)
    me = await gw.get("/api/v1/users/me", headers=owner["headers"])
    assert me.status_code == 200, me.text
