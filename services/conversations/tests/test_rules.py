"""Pure rules: tags, delivery receipts, the rate limiter, visitor tokens."""

import uuid

import pytest

from conversations.api.ratelimit import SlidingWindowLimiter
from conversations.api.visitor_tokens import issue_visitor_token, visitor_conversation
from conversations.domain.errors import InvalidVisitorToken, RateLimited
from conversations.domain.rules import (
    InvalidTag,
    delivery_advances,
    normalize_delivery_state,
    normalize_tags,
)


def test_tags_are_lowercased_deduplicated_and_sorted() -> None:
    assert normalize_tags(["VIP", " vip ", "follow-up", "a_b"]) == ["a_b", "follow-up", "vip"]


@pytest.mark.parametrize("bad", ["", "with space", "-leading", "x" * 33, "émoji", "a/b"])
def test_tags_that_are_not_short_labels_are_refused(bad: str) -> None:
    with pytest.raises(InvalidTag):
        normalize_tags([bad])


def test_more_than_twenty_tags_are_refused() -> None:
    with pytest.raises(InvalidTag):
        normalize_tags([f"t{i}" for i in range(21)])


def test_delivery_receipts_only_move_forward() -> None:
    assert delivery_advances(None, "sent")
    assert delivery_advances("sent", "read")
    assert not delivery_advances("read", "delivered")
    assert delivery_advances("read", "failed")
    assert not delivery_advances("failed", "read")
    assert normalize_delivery_state("UNDELIVERED") == "failed"
    assert normalize_delivery_state("deleted") is None


def test_limiter_refuses_over_the_limit_with_retry_after_then_recovers() -> None:
    now = [1000.0]
    limiter = SlidingWindowLimiter(2, 60, clock=lambda: now[0])
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("a")
    assert refused.value.retry_after == 60
    limiter.hit("b")  # keys are independent
    now[0] += 60.5
    limiter.hit("a")


def test_limiter_forgets_idle_keys_when_full() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(1, 10, clock=lambda: now[0], max_keys=2)
    limiter.hit("a")
    limiter.hit("b")
    now[0] = 20
    limiter.hit("c")
    assert set(limiter._hits) == {"c"}


def test_visitor_token_grants_its_conversation_only() -> None:
    conversation_id = uuid.uuid4()
    token = issue_visitor_token("key", conversation_id, 60)
    assert visitor_conversation("key", token) == conversation_id
    with pytest.raises(InvalidVisitorToken):
        visitor_conversation("another-key", token)
    with pytest.raises(InvalidVisitorToken):
        visitor_conversation("key", token[:-2] + "xx")


def test_expired_visitor_token_is_refused() -> None:
    token = issue_visitor_token("key", uuid.uuid4(), 60, now=0)
    with pytest.raises(InvalidVisitorToken):
        visitor_conversation("key", token)
