"""Cache mode "responses": the Responses API with caching, chained by response id.

With a `previous_response_id` only the new user message is sent; the service adds the
cached conversation. Without one (first turn, or after the stored response expired)
the system prompt, the trimmed history and the new message are sent. The system
prompt goes as a `system` input message, because caching rejects `instructions`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from volcenginesdkarkruntime._exceptions import (
    ArkAPIError,
    ArkAPIStatusError,
    ArkBadRequestError,
    ArkNotFoundError,
)

from ..provider import ARK
from .chat_stream import Transcript, field
from .errors_map import interrupted_error, names_missing_model
from .events import CacheUpdate, ContentDelta, Event, Finish, ReasoningDelta, TurnRequest, Usage
from .history import prefix_messages
from .params import responses_body

TEXT_DELTA = "response.output_text.delta"
REASONING_DELTA = "response.reasoning_summary_text.delta"
DONE_EVENTS = frozenset({"response.completed", "response.incomplete"})
FAILED_EVENTS = frozenset({"response.failed", "error"})


def stream_with_responses(
    client: Any, request: TurnRequest, transcript: Transcript
) -> Generator[Event, None, None]:
    """Stream one turn through the Responses API, then yield the new response id."""
    previous = request.previous_response_id
    try:
        stream = _open(client, request, previous)
    except (ArkNotFoundError, ArkBadRequestError) as exc:
        if previous is None or not is_stale_response(exc):
            raise
        stream = _open(client, request, None)  # replay the history instead
    response_id = yield from _read_events(stream, transcript)
    yield CacheUpdate(None, None, response_id)


def is_stale_response(exc: ArkAPIStatusError) -> bool:
    """Whether the error says the previous response is gone (expired or unknown)."""
    if isinstance(exc, ArkNotFoundError):
        return not names_missing_model(exc)
    return exc.param == "previous_response_id" or "previous_response" in str(exc.message)


def _open(client: Any, request: TurnRequest, previous_response_id: str | None) -> Any:
    return client.responses.create(
        **responses_body(
            request.provider,
            model=request.model,
            input=_input(request, previous_response_id),
            previous_response_id=previous_response_id,
            caching={"type": "enabled"},
            store=True,
            stream=True,
            thinking={"type": request.thinking},
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
        )
    )


def _input(request: TurnRequest, previous_response_id: str | None) -> list[dict]:
    new = {"role": "user", "content": request.new_message}
    if previous_response_id:
        return [new]
    messages: list[dict] = prefix_messages(
        request.system_prompt, request.history, request.history_tokens, request.new_message
    )
    if request.provider != ARK:
        messages = [_item(message) for message in messages]
    messages.append(new)
    return messages


def _item(message: dict[str, str]) -> dict:
    """An earlier answer as a typed output message: the form the Responses API defines,
    which strict servers require (llama.cpp refuses an assistant item with plain text)."""
    if message["role"] != "assistant":
        return message
    text = {"type": "output_text", "text": message["content"]}
    return {"type": "message", "role": "assistant", "content": [text]}


def _read_events(stream: Any, transcript: Transcript) -> Generator[Event, None, str]:
    content, reasoning = transcript.content, transcript.reasoning
    final = None
    with stream:
        for event in stream:
            kind = event.type
            if kind == TEXT_DELTA:
                if event.delta:
                    content.append(event.delta)
                    yield ContentDelta(event.delta)
            elif kind == REASONING_DELTA:
                if event.delta:
                    reasoning.append(event.delta)
                    yield ReasoningDelta(event.delta)
            elif kind in DONE_EVENTS:
                final = event.response
            elif kind in FAILED_EVENTS:
                raise _failure(event, stream)
    if final is None:
        raise interrupted_error()
    if final.usage is not None:
        yield _usage(final.usage, final.model)
    yield Finish(_finish_reason(final))
    return final.id


def _usage(usage: Any, model: str | None) -> Usage:
    return Usage(
        prompt_tokens=field(usage, "input_tokens") or 0,
        completion_tokens=field(usage, "output_tokens") or 0,
        cached_tokens=field(field(usage, "input_tokens_details"), "cached_tokens") or 0,
        reasoning_tokens=field(field(usage, "output_tokens_details"), "reasoning_tokens") or 0,
        model=model,
    )


def _finish_reason(response: Any) -> str:
    if response.status != "incomplete":
        return "stop"
    reason = str(field(response.incomplete_details, "reason") or "")
    return "content_filter" if "content_filter" in reason else "length"


def _failure(event: Any, stream: Any) -> ArkAPIError:
    """An `ArkAPIError` like the one the SDK raises for in-stream errors, so the
    usual mapping applies (content filter, quota, or an interrupted stream)."""
    error = field(event.response, "error") if event.type == "response.failed" else event
    body = {
        "code": field(error, "code"),
        "message": field(error, "message"),
        "param": field(error, "param"),
    }
    request_id = stream.response.headers.get("x-client-request-id", "")
    return ArkAPIError(str(body["message"] or "response failed"), body=body, request_id=request_id)
