"""The in-process hub: limits, wake-ups by key, release whatever happens."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from conversations.live.hub import Hub, TooManyStreams


async def test_a_change_wakes_only_the_streams_of_its_workspace_or_conversation() -> None:
    hub = Hub(max_streams=10, max_per_client=5)
    workspace, conversation, elsewhere = uuid4(), uuid4(), uuid4()
    owner = hub.open(workspace, "owner:a")
    visitor = hub.open(conversation, "visitor:b")
    stranger = hub.open(elsewhere, "owner:c")
    hub.notify(workspace, conversation)
    assert owner.wake.is_set() and visitor.wake.is_set()
    assert not stranger.wake.is_set()
    await asyncio.wait_for(owner.wait(5), 1)  # returns at once, and re-arms
    assert not owner.wake.is_set()


async def test_limits_per_client_then_per_process_and_release_frees_the_slot() -> None:
    hub = Hub(max_streams=3, max_per_client=2)
    key = uuid4()
    first, _ = hub.open(key, "visitor:x"), hub.open(key, "visitor:x")
    with pytest.raises(TooManyStreams) as per_client:
        hub.open(key, "visitor:x")
    assert per_client.value.per_client
    hub.open(uuid4(), "owner:y")
    with pytest.raises(TooManyStreams) as full:
        hub.open(uuid4(), "owner:z")
    assert not full.value.per_client
    hub.release(first)
    hub.release(first)  # twice changes nothing
    assert hub.open_streams == 2
    hub.open(key, "visitor:x")


async def test_shutdown_ends_every_stream_and_refuses_new_ones() -> None:
    hub = Hub(max_streams=3, max_per_client=3)
    stream = hub.open(uuid4(), "owner:a")
    hub.close()
    assert stream.closed and stream.wake.is_set()
    with pytest.raises(TooManyStreams):
        hub.open(uuid4(), "owner:b")
