"""Rules for the services a workspace offers (a "service" here is a product, not a process)."""

from collections import Counter
from decimal import Decimal
from uuid import UUID

from workspaces.domain.errors import InvalidPrice, InvalidReorder

MAX_DURATION_MINUTES = 24 * 60


def check_price(price: Decimal | None, currency: str | None) -> None:
    """A price needs a currency, and a currency without a price means nothing."""
    if price is not None and price < 0:
        raise InvalidPrice("Price must not be negative")
    if price is not None and currency is None:
        raise InvalidPrice("A currency (ISO 4217, such as 'USD') is required when a price is set")
    if price is None and currency is not None:
        raise InvalidPrice("A currency can only be set together with a price")


def check_reorder(requested: list[UUID], existing: set[UUID]) -> None:
    """A reorder lists every one of the caller's services exactly once, nothing else."""
    duplicates = {i for i, n in Counter(requested).items() if n > 1}
    if duplicates:
        raise InvalidReorder(f"Each service may appear only once; repeated: {_ids(duplicates)}")
    unknown = set(requested) - existing
    if unknown:
        raise InvalidReorder(f"Not services of your workspace: {_ids(unknown)}")
    missing = existing - set(requested)
    if missing:
        raise InvalidReorder(f"The new order must list all your services; missing: {_ids(missing)}")


def _ids(ids: set[UUID]) -> str:
    return ", ".join(sorted(str(i) for i in ids))
