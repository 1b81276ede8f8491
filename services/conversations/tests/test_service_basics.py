"""The contract every service keeps with the gateway and operators (health, token guard)."""

from shared.service_contract import *  # noqa: F403
