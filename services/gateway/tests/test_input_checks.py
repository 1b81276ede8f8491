"""The text-input checks' shortcuts decide as the plain definitions they stand for."""

import json
import sys
import unicodedata

import pytest

from gateway.proxy.inputs import MAX_JSON_DEPTH, TOO_DEEP, has_control, json_problem, too_deep


def test_has_control_is_unicode_category_cc_for_every_code_point() -> None:
    differ = [
        cp
        for cp in range(sys.maxunicode + 1)
        if has_control(chr(cp)) != (unicodedata.category(chr(cp)) == "Cc")
    ]
    assert differ == []
    assert has_control("/api/v1/x\x7fy") and not has_control("/api/v1/webhooks/whatsapp")


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [1, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 200])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32-be"])
@pytest.mark.parametrize("leaf", [1, "plain", "nul \x00", "[{[{ brackets in text }]}]"])
def test_too_deep_agrees_with_the_walk(depth: int, encoding: str, leaf: str) -> None:
    value = nested(depth, leaf)
    body = json.dumps(value).encode(encoding)
    assert json.loads(body) == value
    assert too_deep(body, value) == (json_problem(value) == TOO_DEEP)
