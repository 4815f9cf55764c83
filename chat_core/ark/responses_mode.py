"""Cache mode "responses": the Responses API with caching, chained by response id.

With a `previous_response_id` only the new user message is sent; the service adds the
cached conversation. Without one (first turn, or after the stored response expired)
the system prompt, the trimmed history and the new message are sent. The system
prompt goes as a `system` input message, because caching rejects `instructions`.

With web search on, the turn adds the `web_search` tool (and is not cached: caching
takes no built-in tool); its progress and the pages the answer cites stream as
`SearchProgress` and `Sources` events.
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
from . import content as message_content
from .chat_stream import Transcript, field
from .errors_map import interrupted_error, names_missing_model
from .events import (
    CacheUpdate,
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    SearchProgress,
    Sources,
    TurnRequest,
    Usage,
)
from .history import prefix_messages
from .params import responses_body

TEXT_DELTA = "response.output_text.delta"
ANNOTATION_ADDED = "response.output_text.annotation.added"
ITEM_DONE = "response.output_item.done"
SEARCH_EVENTS = {
    "response.web_search_call.in_progress": "searching",
    "response.web_search_call.searching": "searching",
    "response.web_search_call.completed": "done",
}
WEB_SEARCH_TOOL = {"type": "web_search"}
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
            # Caching takes no built-in tool: a turn that may search is not cached (the
            # chain goes on through the stored response all the same).
            caching={"type": "disabled" if request.web_search else "enabled"},
            store=True,
            stream=True,
            thinking={"type": request.thinking},
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
            reasoning={"effort": request.reasoning_effort} if request.reasoning_effort else None,
            **({"tools": [WEB_SEARCH_TOOL]} if request.web_search else {}),
        )
    )


def _input(request: TurnRequest, previous_response_id: str | None) -> list[dict]:
    new = message_content.new_message(request, message_content.RESPONSES)
    if previous_response_id:
        return [new]
    messages: list[dict] = prefix_messages(
        request.system_prompt,
        request.history,
        request.history_tokens,
        request.new_message,
        **message_content.image_tokens(request),
    )
    messages = message_content.with_history_images(messages, request, message_content.RESPONSES)
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
    final, sources = None, []
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
            elif kind in SEARCH_EVENTS:
                yield SearchProgress(SEARCH_EVENTS[kind])
            elif kind == ITEM_DONE and field(event.item, "type") == "web_search_call":
                yield SearchProgress("done", field(field(event.item, "action"), "query"))
            elif kind == ANNOTATION_ADDED and _cite(sources, event.annotation):
                yield Sources(tuple(sources))
            elif kind in DONE_EVENTS:
                final = event.response
            elif kind in FAILED_EVENTS:
                raise _failure(event, stream)
    if final is None:
        raise interrupted_error()
    if _cite_all(sources, final):
        yield Sources(tuple(sources))
    if final.usage is not None:
        yield _usage(final.usage, final.model)
    yield Finish(_finish_reason(final))
    return final.id


def _cite(sources: list[dict], annotation: Any) -> bool:
    """Add a web page the answer cites to `sources`, once; True when it is new."""
    url = field(annotation, "url")
    if field(annotation, "type") != "url_citation" or not isinstance(url, str):
        return False
    if any(source["url"] == url for source in sources):
        return False
    source = {"url": url, "title": field(annotation, "title") or url}
    if site := field(annotation, "site_name"):
        source["site"] = site
    sources.append(source)
    return True


def _cite_all(sources: list[dict], response: Any) -> bool:
    """Add the pages the final answer cites that no event announced; True if any."""
    added = False
    for item in response.output or ():
        for part in field(item, "content") or ():
            for annotation in field(part, "annotations") or ():
                added = _cite(sources, annotation) or added
    return added


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
