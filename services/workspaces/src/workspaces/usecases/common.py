"""Helpers every use case shares: who is calling, and reading constraint violations."""

from uuid import UUID

from sqlalchemy.exc import IntegrityError

from shared.tokens import Principal
from workspaces.domain.errors import NotAuthenticated


def caller_id(principal: Principal) -> UUID:
    """The calling user's id; anonymous (public) traffic may not act on owner data."""
    if principal.user_id is None:
        raise NotAuthenticated()
    return principal.user_id


def violated_constraint(exc: IntegrityError) -> str | None:
    """Name of the constraint asyncpg reports, so a race maps to the right domain error."""
    error: BaseException | None = exc.orig
    while error is not None:
        name = getattr(error, "constraint_name", None)
        if name:
            return str(name)
        error = error.__cause__
    return None
