"""Build the Ark SDK client from `Settings`."""

from __future__ import annotations

import ssl

import httpx
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._base_client import SyncHttpxClientWrapper

from ..config import Settings
from ..errors import MissingKeyError


def make_client(
    settings: Settings,
    api_key: str | None = None,
    *,
    http_client: httpx.Client | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Ark:
    """Return an `Ark` client for `settings`, using `api_key` when given.

    Raises `MissingKeyError` when there is no key (the SDK would raise a bare
    AssertionError) or it holds what no key does (spaces, non-ASCII). The SDK ignores
    ARK_BASE_URL, so the base URL is passed here.
    The SDK client is not thread-safe: make one per script run or per thread,
    never a process-wide one. Pass a shared `ssl_context` to skip building one per
    client (~25 ms); the connection pool then has the SDK's own defaults and is closed
    when the client is collected.
    """
    key = (api_key or settings.api_key or "").strip()
    if not key:
        raise MissingKeyError("missing_api_key")
    if not (key.isascii() and key.isprintable()) or any(char.isspace() for char in key):
        # A pasted zero-width space or curly letter would fail deep in httpx, whose
        # error carries the header, key included.
        raise MissingKeyError("api_key_malformed")
    if http_client is None and ssl_context is not None:
        http_client = SyncHttpxClientWrapper(
            base_url=settings.base_url, timeout=settings.timeout, verify=ssl_context
        )
    return Ark(
        api_key=key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        http_client=http_client,
    )
