"""Domain errors; the API maps each to a status and uses the message as `detail`."""


class ConnectorsError(Exception):
    pass


class ConnectorNotFound(ConnectorsError):
    def __init__(self, message: str = "Connector not found") -> None:
        super().__init__(message)


class NoActiveConnector(ConnectorsError):
    def __init__(self) -> None:
        super().__init__("This workspace has no active connector; activate one first")


class WorkspaceMissing(ConnectorsError):
    def __init__(self) -> None:
        super().__init__(
            "You have no workspace yet; create your workspace before adding a connector"
        )


class ConcurrentChange(ConnectorsError):
    def __init__(self) -> None:
        super().__init__("Another change to this workspace's connectors happened at once; retry")


class InvalidConnectorInput(ConnectorsError):
    pass


class SlotTaken(ConnectorsError):
    def __init__(self) -> None:
        super().__init__(
            "This time has just been booked by someone else; ask for availability again"
        )


class SlotNotBookable(ConnectorsError):
    """A start the calendar does not offer: outside the hours, off the grid, too soon..."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This start cannot be booked: {reason}")


class BookingNotFound(ConnectorsError):
    def __init__(self, message: str = "Booking not found for the active connector") -> None:
        super().__init__(message)


class BookingNotMarkable(ConnectorsError):
    """A mark the booking cannot take now: not started yet, cancelled, nothing sent."""


class BookingNotLive(ConnectorsError):
    """The calendar answered a booking request with a booking that holds no time."""

    def __init__(self) -> None:
        super().__init__(
            "The calendar answered with a cancelled booking, so this time is not booked; "
            "ask for availability again"
        )


# -- provider failures: raised by provider clients, mapped to 4xx/5xx answers ---------------


class ProviderError(ConnectorsError):
    """Base of every failure talking to a scheduling provider."""

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"{provider}: {reason}")


class ProviderAuthFailed(ProviderError):
    """The provider refused the credentials (401/403)."""


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx): a taken slot, a wrong id."""


class ProviderNotFound(ProviderError):
    """The provider does not know the booking or resource."""


class ProviderUnavailable(ProviderError):
    """5xx, a connection failure, or retries exhausted."""


class ProviderRateLimited(ProviderError):
    def __init__(self, provider: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(provider, reason)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    pass


class ProviderUnsupported(ProviderError):
    """The provider's public API does not offer this operation."""


class InvalidSignature(ConnectorsError):
    pass


class WebhookNotConfigured(ConnectorsError):
    pass
