"""An answer leaves in one send: the writes of one turn of the event loop are joined."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.serving import CoalescingTransport


class Recorded(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


async def next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_the_writes_of_one_turn_leave_as_one_send_in_order() -> None:
    real = Recorded()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    head, body = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"ok"
    transport.write(head)
    transport.write(b"")  # nothing to send is not a send
    transport.write(memoryview(body))
    assert real.sent == []
    assert transport.get_write_buffer_size() == len(head + body)
    await next_turn()
    assert real.sent == [head + body]
    transport.write(b"next answer")
    await next_turn()
    assert real.sent[1:] == [b"next answer"]


async def test_closing_sends_what_is_pending_first() -> None:
    real = Recorded()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    transport.close()
    assert real.events == ["write", "close"]
    await next_turn()
    assert real.events == ["write", "close"]  # the scheduled send found nothing left

    half = Recorded()
    transport = CoalescingTransport(half, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 431\r\n\r\n")
    transport.write_eof()
    assert half.events == ["write", "eof"]


async def test_a_peer_gone_before_the_send_gets_nothing_and_abort_drops_the_rest() -> None:
    real = Recorded()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"late")
    real.closing = True  # the client disconnected within the turn
    await next_turn()
    assert real.sent == []

    aborted = Recorded()
    transport = CoalescingTransport(aborted, asyncio.get_running_loop())
    transport.write(b"dropped")
    transport.abort()
    await next_turn()
    assert aborted.events == ["abort"]
