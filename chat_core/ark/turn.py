"""The entry point: stream one chat turn in the configured cache mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import ArkError

from ..errors import ChatError
from .chat_stream import Transcript
from .context_mode import stream_with_context
from .errors_map import to_chat_error
from .events import Event, TurnRequest
from .preflight import prepare
from .responses_mode import stream_with_responses
from .stateless import stream_continuation, stream_stateless

MODES = {
    "off": stream_stateless,
    "context": stream_with_context,
    "responses": stream_with_responses,
}


def stream_turn(client: Ark, request: TurnRequest) -> Iterator[Event]:
    """Stream one turn: `ReasoningDelta`/`ContentDelta` as they arrive, then `Usage`
    (when the service reports it), then `Finish`, then, in the caching modes, one
    `CacheUpdate` with the state to persist for the next turn.

    `Finish("content_filter")` is a normal end, not an exception: moderation stopped
    the reply, and the caller should store the partial text with that status.
    `Finish("length")` means the token limit cut the reply; a request with
    `continue_from` asks for the rest of such a reply (through Chat Completions in every
    mode, its cache state then dropped so the next turn replays the history).

    Before anything is sent, `preflight.prepare` refuses a mode the server cannot serve
    and a request too long for the model's context window.

    Any failure raises a `ChatError` subclass whose `.partial`/`.partial_reasoning`
    hold the text received so far. Closing the iterator early (e.g. the user stops the
    reply) closes the SDK stream and releases its HTTP connection.
    """
    mode = MODES.get(request.cache_mode)
    if mode is None:
        raise ValueError(f"unknown cache mode {request.cache_mode!r}; use one of {list(MODES)}")
    if request.continue_from is not None:
        mode = stream_continuation  # neither the Context nor the Responses API continues
    return _guarded(mode, client, request)


def _guarded(mode: Any, client: Ark, request: TurnRequest) -> Iterator[Event]:
    transcript = Transcript()
    try:
        request = prepare(client, request)  # may refuse before anything is sent
        yield from mode(client, request, transcript)
    except (ArkError, httpx.TransportError, ChatError) as exc:
        error = to_chat_error(
            exc,
            partial="".join(transcript.content),
            partial_reasoning="".join(transcript.reasoning),
        )
        if error is exc:
            raise
        raise error from exc
