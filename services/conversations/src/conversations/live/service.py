"""What the app holds for live streams: the hub and its listener, started with the app."""

from __future__ import annotations

from conversations.live.hub import Hub
from conversations.live.listener import LiveListener
from conversations.settings import Settings


class Live:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub(settings.live_max_streams, settings.live_streams_per_client)
        self.listener = LiveListener(settings.database_url, self.hub)

    async def start(self) -> None:
        self.hub.closing = False
        self.listener.start()

    async def stop(self) -> None:
        self.hub.close()
        await self.listener.stop()
