"""Domain errors. The message of each is what the caller reads in `detail`."""


class DomainError(Exception):
    """Base of every rule violation this service reports."""


class NotAuthenticated(DomainError):
    def __init__(self) -> None:
        super().__init__("Not authenticated")


class WorkspaceNotFound(DomainError):
    def __init__(self, message: str = "Workspace not found") -> None:
        super().__init__(message)


class ServiceNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__("Workspace service not found")


class WorkspaceRequired(DomainError):
    """The caller has no workspace yet, so there is nothing to put a service in."""

    def __init__(self) -> None:
        super().__init__(
            "You have no workspace yet: create one with POST /api/v1/workspaces/ first"
        )


class WorkspaceAlreadyExists(DomainError):
    def __init__(self) -> None:
        super().__init__("You already have a workspace; an owner has exactly one")


class HandleTaken(DomainError):
    def __init__(self, handle: str) -> None:
        super().__init__(f"The handle '{handle}' is already taken")
        self.handle = handle


class InvalidPrice(DomainError):
    """Price and currency do not fit together."""


class InvalidReorder(DomainError):
    """A reorder request that does not list exactly the caller's services."""
