"""Meta's Graph API errors, shared by the WhatsApp, Messenger and Instagram senders.

Errors come as `{"error": {"message", "type", "code", "error_subcode", "error_data":
{"details"}, "fbtrace_id"}}`; Meta asks integrators to branch on `code`.
"""

from __future__ import annotations

import httpx

from conversations.delivery.base import Attempt, json_of, retry_after_seconds, server_error

# Documented as throttling or temporary: the request was not processed, so it may be sent
# again after a pause. 4 app rate limit, 80007 WABA rate limit, 130429 Cloud API throughput,
# 131056 pair rate limit, 613 / 80004 call rate limits, 2 and 131016 temporary unavailability.
NOT_PROCESSED = frozenset({4, 2, 613, 80004, 80007, 130429, 131016, 131056})
# Tokens and permissions: nothing will work until the owner updates the credentials.
AUTH = frozenset({0, 3, 10, 190, *range(200, 300)})


def graph_error(provider: str, response: httpx.Response) -> Attempt:
    """Classify a non-2xx Graph answer."""
    error = json_of(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) else None
    details = (error.get("error_data") or {}).get("details") if error else None
    message = str(error.get("message") or f"HTTP {response.status_code}")
    reason = f"{provider} {code if code is not None else response.status_code}: {message}"
    if details and isinstance(details, str) and details not in message:
        reason += f" ({details})"
    reason = reason[:500]
    if response.status_code == 429 or code in NOT_PROCESSED:
        return Attempt(
            "retry", error=reason, code=str(code), retry_after=retry_after_seconds(response)
        )
    if response.status_code >= 500:
        return server_error(provider, response, reason)
    if code in AUTH or response.status_code in (401, 403):
        reason += "; update the channel account's access token"
    return Attempt("failed", error=reason, code=None if code is None else str(code))


def graph_url(base_url: str, version: str, node: str) -> str:
    return f"{base_url.rstrip('/')}/{version}/{node}/messages"
