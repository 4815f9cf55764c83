"""Before a request is sent: can this server serve it, and does it fit the model?

A generic server is asked (once; see `probe`) what it can do: a mode it cannot serve is
refused here, naming its limit. The history budget follows the model's context window
(from the request, else from the server), less the room kept for the reply; a request
whose system prompt and new message alone overflow it is refused with its size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import RequestTooLongError
from ..provider import ARK, ARK_FACTS, RESPONSES, ServerFacts, check_mode
from .content import image_tokens
from .events import TurnRequest
from .history import fixed_tokens, prompt_limit
from .probe import server_facts


def prepare(client: Any, request: TurnRequest) -> TurnRequest:
    """`request` with its history budget fitted to the model's context window; raises
    `ModeUnavailableError` or `RequestTooLongError` instead of sending what would fail."""
    continuing = request.continue_from is not None
    facts = _facts(client, request, continuing)
    if continuing:  # a plain chat call in every mode, worded for the server
        request = replace(request, served_by=facts.served_by)
    else:
        check_mode(request.provider, request.cache_mode, facts)
    window = request.context_window or facts.context_size
    if window is None:
        return request
    limit = prompt_limit(window, request.max_tokens)
    needed = fixed_tokens(request.system_prompt, request.new_message, request.continue_from)
    needed += image_tokens(request)["new_images"]
    if needed > limit:
        raise RequestTooLongError("request_too_long", tokens=needed, limit=limit, window=window)
    return replace(request, history_tokens=min(request.history_tokens, limit))


def _facts(client: Any, request: TurnRequest, continuing: bool) -> ServerFacts:
    if request.provider == ARK:
        return ARK_FACTS
    return server_facts(
        client,
        request.model,
        chaining=request.cache_mode == RESPONSES and not continuing,
        context_size=request.context_window is None,
        served_by=continuing,
    )
