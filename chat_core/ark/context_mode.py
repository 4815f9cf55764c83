"""Cache mode "context": the Ark Context API in session mode.

The service keeps the conversation in a context (`ctx-...`), so each turn sends only
the new user message. The context is created lazily from the system prompt and the
(trimmed) history at the first turn that needs one, and re-created once, silently,
when the service no longer knows it. Its expiry is sliding: every turn resets it to
now + `context_ttl`. A first turn with no system prompt has nothing to cache (the API
rejects an empty context), so it goes as a plain chat call and yields
`CacheUpdate(None, None, None)`; the next turn creates the context from the history.

Limits of the Context API that the README should repeat:
- it needs an endpoint id (`ep-...`), not a model id;
- it has no `thinking` parameter, so the thinking setting is NOT sent in this mode and
  the model uses its default behaviour; nor has it a reasoning effort;
- a message's images go with it as image parts, but the context is created from the
  text of earlier messages only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from volcenginesdkarkruntime._exceptions import (
    ArkAPIStatusError,
    ArkBadRequestError,
    ArkNotFoundError,
)

from ..errors import EndpointRequiredError
from .chat_stream import Transcript, read_chat_stream
from .content import CHAT as CHAT_CONTENT
from .content import new_message
from .errors_map import names_missing_model
from .events import CacheUpdate, Event, TurnRequest
from .history import prefix_messages
from .params import CHAT, CONTEXT_CHAT, CONTEXT_CREATE, body

ENDPOINT_PREFIX = "ep-"
# Treat a context as expired a little early: the request itself takes time to arrive.
EXPIRY_MARGIN_SECONDS = 30.0


def stream_with_context(
    client: Any, request: TurnRequest, transcript: Transcript
) -> Iterator[Event]:
    """Stream one turn through the Context API, then yield the context's new state."""
    require_endpoint(request.model)
    context_id = request.context_id
    if context_id is None or _expired(request.context_expires_at):
        context_id = _create_context(client, request)
    started = time.time()
    try:
        stream = _open_chat(client, request, context_id)
    except (ArkNotFoundError, ArkBadRequestError) as exc:
        if context_id is None or not is_stale_context(exc):
            raise
        context_id = _create_context(client, request)
        started = time.time()
        stream = _open_chat(client, request, context_id)
    yield from read_chat_stream(stream, transcript)
    # Counted from the request's start, so the stored expiry is never later than the real one.
    expires_at = started + request.context_ttl if context_id else None
    yield CacheUpdate(context_id, expires_at, None)


def require_endpoint(model: str) -> None:
    """Raise `EndpointRequiredError` unless `model` is an endpoint id."""
    if model.startswith(ENDPOINT_PREFIX):
        return
    raise EndpointRequiredError("endpoint_required", model=model)


def is_stale_context(exc: ArkAPIStatusError) -> bool:
    """Whether the error says the context is gone (expired or unknown) rather than
    something else, such as a wrong endpoint or a request too long for the model's
    context window (a new context would fail the same way, and cost a creation)."""
    if isinstance(exc, ArkNotFoundError):
        return not names_missing_model(exc)
    if exc.param == "context_id":
        return True
    text = str(exc.message).lower()
    return (
        "context" in text
        and any(word in text for word in _CONTEXT_GONE)
        and not any(word in text for word in _TOO_LONG)
    )


_CONTEXT_GONE = ("expire", "not found", "not exist", "unknown", "invalid context")
_TOO_LONG = ("length", "size", "window", "too long", "exceed", "token")


def _expired(expires_at: float | None) -> bool:
    return expires_at is not None and expires_at - EXPIRY_MARGIN_SECONDS <= time.time()


def _create_context(client: Any, request: TurnRequest) -> str | None:
    """A new session context holding the system prompt and history, or None when
    there is nothing to cache yet (the API rejects an empty message list)."""
    messages = prefix_messages(
        request.system_prompt, request.history, request.history_tokens, request.new_message
    )
    if not messages:
        return None
    context = client.context.create(
        **body(
            CONTEXT_CREATE,
            request.provider,
            model=request.model,
            mode="session",
            messages=messages,
            ttl=int(request.context_ttl),
        )
    )
    return context.id


def _open_chat(client: Any, request: TurnRequest, context_id: str | None) -> Any:
    options = {
        "model": request.model,
        "messages": [new_message(request, CHAT_CONTENT)],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if context_id is None:
        # Nothing cached yet: a plain call; the next turn creates the context from history.
        return client.chat.completions.create(**body(CHAT, request.provider, **options))
    return client.context.completions.create(
        context_id=context_id, **body(CONTEXT_CHAT, request.provider, **options)
    )
