"""How many sends one tenant may have in flight in this process: a few of the consumer's slots.

The delivery consumer holds up to CONSUMER_PREFETCH replies at once. Unbounded, one workspace
whose callback accepts connections and never answers (or an SMS number paced at one send a
second) would hold every one of them, and every other business's replies would queue behind
it. So each send takes a slot of its channel account and one of its workspace, without
waiting: when either is full the reply is parked (delivery/parking.py) and comes back a
moment later, and the consumer's slot goes to someone else.
"""

from __future__ import annotations


class TenantSlots:
    def __init__(self, per_account: int, per_workspace: int) -> None:
        self.per_account = per_account
        self.per_workspace = per_workspace
        self._used: dict[str, int] = {}

    def take(self, account: str, workspace: str) -> bool:
        """One slot of each, or none (False) when either is full."""
        a, w = f"account:{account}", f"workspace:{workspace}"
        if self._used.get(a, 0) >= self.per_account or self._used.get(w, 0) >= self.per_workspace:
            return False
        self._used[a] = self._used.get(a, 0) + 1
        self._used[w] = self._used.get(w, 0) + 1
        return True

    def give_back(self, account: str, workspace: str) -> None:
        for key in (f"account:{account}", f"workspace:{workspace}"):
            left = self._used[key] - 1
            if left:
                self._used[key] = left
            else:
                del self._used[key]  # idle tenants take no memory

    def in_use(self, workspace: str) -> int:
        return self._used.get(f"workspace:{workspace}", 0)
