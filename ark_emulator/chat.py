"""POST /chat/completions and /context/chat/completions: completions and chunk streams.

Chunks follow the recorded real chunk in ark-api.md §4.3: every delta repeats
`"role":"assistant"`, and only the chunk that ends the answer has a `finish_reason`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from . import errors
from .call import Call
from .content import check_images
from .faults import Fault
from .replies import (
    Reply,
    ReplyLimits,
    answer_start,
    chat_usage,
    count_message_tokens,
    last_user_text,
)
from .sse import DONE, DROP, EVENT, TOKEN, dumps, sse_event


def chat_completions(call: Call, continues_final_message: bool = True) -> None:
    """`continues_final_message`: a final assistant message is the start of the answer
    (Ark, llama.cpp); False answers after it as after any complete message (vLLM unless
    asked to continue)."""
    messages = request_messages(call)
    reply = plan_chat_reply(call, messages, continues_final_message)
    answer_chat(call, reply, chat_usage(count_message_tokens(messages), 0, reply))


def context_chat_completions(call: Call) -> None:
    """Chat on top of a stored context; session contexts remember the new turn."""
    store = call.backend.contexts
    new_messages = request_messages(call)
    context = store.check_out(
        str(call.require("context_id")), call.settings.reject_concurrent_context_use
    )
    try:
        history = list(context.messages)
        seen = history + new_messages
        reply = plan_chat_reply(call, seen)
        usage = chat_usage(count_message_tokens(seen), count_message_tokens(history), reply)
        if reply.failure is None:
            # Remember before answering: the client may send the next turn as soon as it
            # sees [DONE], possibly before this thread runs again.
            store.remember_turn(context, new_messages, reply.text)
        answer_chat(call, reply, usage, before_end=lambda: store.release(context))
    finally:
        store.release(context)


def request_messages(call: Call) -> list[dict]:
    messages = call.require("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise errors.invalid_parameter("messages", "messages must be a list of objects")
    check_images(messages, call.model)
    return messages


def plan_chat_reply(call: Call, messages: list[dict], continues: bool = True) -> Reply:
    start = answer_start(messages) if continues else None
    return call.plan_reply(last_user_text(messages), _chat_limits(call), start)


def answer_chat(
    call: Call, reply: Reply, usage: dict, before_end: Callable[[], None] = lambda: None
) -> None:
    """Stream `reply` as chunks or return one chat.completion; `before_end` runs just
    before the client can see the end of the answer."""
    if call.wants_stream:
        options = call.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        call.send_stream(_chunk_events(call, reply, usage if include_usage else None, before_end))
        return
    call.wait_for_generation(reply.output_tokens)
    completion = _completion(call, reply, usage)
    before_end()
    if reply.failure is Fault.DROP:
        call.send_truncated_json(completion)
    else:
        call.send_json(200, completion)


def _chat_limits(call: Call) -> ReplyLimits:
    answer = call.positive_int("max_tokens")
    total = call.positive_int("max_completion_tokens")
    if answer is not None and total is not None:
        raise errors.invalid_parameter(
            "max_tokens", "max_tokens and max_completion_tokens cannot be set together"
        )
    return ReplyLimits(answer=answer, total=total)


def _completion(call: Call, reply: Reply, usage: dict) -> dict:
    message = {"role": "assistant", "content": reply.text}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning_text
    return {
        "id": call.request_id,
        "object": "chat.completion",
        "created": int(call.settings.now()),
        "model": call.model,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


def _chunk_events(
    call: Call, reply: Reply, usage: dict | None, before_end: Callable[[], None]
) -> Iterator[tuple[int, bytes]]:
    """The chunk stream. Anything that might fail runs now, while a 500 can still be sent."""
    created = int(call.settings.now())
    # Chunks are spliced from pre-encoded halves: one json.dumps per token keeps it fast.
    head = (
        b'data: {"id":%b,"object":"chat.completion.chunk","created":%d,"model":%b,'
        b'"service_tier":"default","choices":[{"index":0,"delta":{"role":"assistant",'
        % (dumps(call.request_id), created, dumps(call.model))
    )
    ending = _stream_ending(call, reply, head, usage, created)
    return _chunk_stream(head, reply, ending, before_end)


def _chunk_stream(
    head: bytes, reply: Reply, ending: list, before_end: Callable[[], None]
) -> Iterator[tuple[int, bytes]]:
    open_tail = b'}}],"usage":null}\n\n'
    for token in reply.reasoning:
        yield TOKEN, head + b'"content":"","reasoning_content":' + dumps(token) + open_tail
    last = len(reply.content) - 1
    for index, token in enumerate(reply.content):
        if index == last:
            before_end()
        ends = index == last and reply.failure is None
        tail = _finish_tail(reply.finish_reason) if ends else open_tail
        yield TOKEN, head + b'"content":' + dumps(token) + tail
    if not reply.content:
        before_end()
    yield from ending


def _stream_ending(
    call: Call, reply: Reply, head: bytes, usage: dict | None, created: int
) -> list[tuple[int, bytes]]:
    """What follows the last token: a fault, or [finish chunk], [usage chunk] and [DONE]."""
    if reply.failure is Fault.DROP:
        return [(DROP, b"")]
    if reply.failure is Fault.STREAM_ERROR:
        return [(EVENT, call.error_event(errors.internal_error()))]
    ending = []
    if not reply.content:
        ending.append((EVENT, head + b'"content":""' + _finish_tail(reply.finish_reason)))
    if usage is not None:
        ending.append((EVENT, _usage_chunk(call, usage, created)))
    ending.append((EVENT, DONE))
    return ending


def _finish_tail(finish_reason: str) -> bytes:
    return b'},"finish_reason":%b}],"usage":null}\n\n' % dumps(finish_reason)


def _usage_chunk(call: Call, usage: dict, created: int) -> bytes:
    return sse_event(
        {
            "id": call.request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": call.model,
            "service_tier": "default",
            "choices": [],
            "usage": usage,
        }
    )
