"""The Slack web client every part of the adapter uses: SLACK_API_URL as its base, a shared
aiohttp session, and 429s retried after Retry-After."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

RATE_LIMIT_RETRIES = 3


def build_web_client(
    token: str, base_url: str, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """A web client on ``base_url`` that retries 429s after Retry-After. Bolt's per-request
    clients copy its base_url, session and retry handlers."""
    if not base_url.endswith("/"):
        base_url += "/"
    client = AsyncWebClient(token=token, base_url=base_url, session=session)
    client.retry_handlers.append(
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
    )
    return client
