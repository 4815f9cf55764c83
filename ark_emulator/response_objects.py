"""Response objects and the Responses API event stream (ark-api.md §6; SDK types/responses/).

Shapes follow the recorded real response in ark-api.md §6: optional keys that would be null
are left out, as there, and output text parts carry no `annotations` unless a web search
found sources (see `web_search`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from .faults import Fault
from .replies import Reply
from .sse import DONE, DROP, EVENT, TOKEN, WAIT, dumps, sse_event
from .web_search import Search

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass
class Turn:
    """Everything a response object shows about one POST /responses."""

    request_id: str
    created_at: int
    model: str
    reply: Reply
    usage: dict
    previous_response_id: str | None
    caching: dict
    store: bool
    expire_at: int
    thinking: dict | None
    instructions: str | None
    max_output_tokens: int | None
    search: Search | None = None
    search_seconds: float = 0.0  # how long the search takes, streamed

    @property
    def id(self) -> str:
        return f"resp_{self.request_id}"

    @property
    def message_id(self) -> str:
        return f"msg_{self.request_id}"

    @property
    def reasoning_id(self) -> str:
        return f"rs_{self.request_id}"

    @property
    def search_id(self) -> str:
        return f"ws_{self.request_id}"

    @property
    def message_index(self) -> int:
        """The message's place in `output`: after the reasoning and the search."""
        return bool(self.reply.reasoning) + bool(self.search)

    @property
    def status(self) -> str:
        return "incomplete" if self.reply.finish_reason in _INCOMPLETE_REASONS else "completed"


def response_usage(input_tokens: int, cached_tokens: int, reply: Reply) -> dict:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": len(reply.reasoning)},
        "total_tokens": input_tokens + reply.output_tokens,
    }


def response_object(turn: Turn, final: bool = True) -> dict:
    """The `response` object: finished (with output and usage) or just started."""
    reason = _INCOMPLETE_REASONS.get(turn.reply.finish_reason) if final else None
    optional = {
        "usage": turn.usage if final else None,
        "incomplete_details": {"reason": reason} if reason else None,
        "previous_response_id": turn.previous_response_id,
        "thinking": turn.thinking,
        "instructions": turn.instructions,
    }
    return {
        "id": turn.id,
        "object": "response",
        "created_at": turn.created_at,
        "model": turn.model,
        "status": turn.status if final else "in_progress",
        "output": output_items(turn) if final else [],
        "tools": [],  # required by the SDK's type, though the recorded example has none
        "caching": turn.caching,
        "store": turn.store,
        "expire_at": turn.expire_at,
        "max_output_tokens": turn.max_output_tokens,
        "service_tier": "default",
        **{key: value for key, value in optional.items() if value is not None},
    }


def output_items(turn: Turn) -> list[dict]:
    items = [_reasoning_item(turn, done=True)] if turn.reply.reasoning else []
    if turn.search is not None:
        items.append(_search_item(turn, done=True))
    return [*items, _message_item(turn, done=True)]


def response_events(turn: Turn, error_event: bytes) -> Iterator[tuple[int, bytes]]:
    """created, in_progress, [reasoning item], message item, completed|incomplete, [DONE];
    a STREAM_ERROR fault ends the stream with `error_event` instead."""
    sequence = itertools.count()

    def event(obj: dict) -> tuple[int, bytes]:
        obj["sequence_number"] = next(sequence)
        return EVENT, sse_event(obj)

    started = response_object(turn, final=False)
    yield event({"type": "response.created", "response": started})
    yield event({"type": "response.in_progress", "response": started})
    if turn.reply.reasoning:
        yield from _reasoning_events(turn, event, sequence)
    if turn.search is not None:
        yield from _search_events(turn, event)
    yield from _message_events(turn, turn.message_index, event, sequence)
    if turn.reply.failure is Fault.DROP:
        yield DROP, b""
        return
    if turn.reply.failure is Fault.STREAM_ERROR:
        yield EVENT, error_event
        return
    done_type = "response.completed" if turn.status == "completed" else "response.incomplete"
    yield event({"type": done_type, "response": response_object(turn)})
    yield EVENT, DONE


def _reasoning_events(turn: Turn, event, sequence) -> Iterator[tuple[int, bytes]]:
    where = {"item_id": turn.reasoning_id, "output_index": 0, "summary_index": 0}
    text = turn.reply.reasoning_text
    yield event(
        {"type": "response.output_item.added", "output_index": 0, "item": _reasoning_item(turn)}
    )
    yield event(
        {
            "type": "response.reasoning_summary_part.added",
            **where,
            "part": {"type": "summary_text", "text": ""},
        }
    )
    head = b'data: {"type":"response.reasoning_summary_text.delta",%b,"delta":' % _fields(where)
    for token in turn.reply.reasoning:
        yield TOKEN, head + dumps(token) + b',"sequence_number":%d}\n\n' % next(sequence)
    yield event({"type": "response.reasoning_summary_text.done", **where, "text": text})
    yield event(
        {
            "type": "response.reasoning_summary_part.done",
            **where,
            "part": {"type": "summary_text", "text": text},
        }
    )
    yield event(
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _reasoning_item(turn, done=True),
        }
    )


def _message_events(turn: Turn, index: int, event, sequence) -> Iterator[tuple[int, bytes]]:
    where = {"item_id": turn.message_id, "output_index": index, "content_index": 0}
    yield event(
        {"type": "response.output_item.added", "output_index": index, "item": _message_item(turn)}
    )
    yield event({"type": "response.content_part.added", **where, "part": _text_part("")})
    for source in turn.search.sources if turn.search else ():
        yield event(
            {"type": "response.output_text.annotation.added", **where, "annotation": source}
        )
    head = b'data: {"type":"response.output_text.delta",%b,"delta":' % _fields(where)
    for token in turn.reply.content:
        yield TOKEN, head + dumps(token) + b',"sequence_number":%d}\n\n' % next(sequence)
    if turn.reply.failure is not None:
        return
    text = turn.reply.text
    yield event({"type": "response.output_text.done", **where, "text": text})
    part = _text_part(text, _annotations(turn))
    yield event({"type": "response.content_part.done", **where, "part": part})
    yield event(
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": _message_item(turn, done=True),
        }
    )


def _reasoning_item(turn: Turn, done: bool = False) -> dict:
    summary = [{"type": "summary_text", "text": turn.reply.reasoning_text}] if done else []
    return {
        "id": turn.reasoning_id,
        "type": "reasoning",
        "summary": summary,
        "status": "completed" if done else "in_progress",
    }


def _search_events(turn: Turn, event) -> Iterator[tuple[int, bytes]]:
    index = int(bool(turn.reply.reasoning))
    where = {"item_id": turn.search_id, "output_index": index}
    yield event(
        {"type": "response.output_item.added", "output_index": index, "item": _search_item(turn)}
    )
    yield event({"type": "response.web_search_call.in_progress", **where})
    yield event({"type": "response.web_search_call.searching", **where})
    if turn.search_seconds > 0:
        yield WAIT, b"%f" % turn.search_seconds
    yield event({"type": "response.web_search_call.completed", **where})
    yield event(
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": _search_item(turn, done=True),
        }
    )


def _search_item(turn: Turn, done: bool = False) -> dict:
    item = {"id": turn.search_id, "type": "web_search_call"}
    if done:
        item["action"] = {"type": "search", "query": turn.search.query}
    item["status"] = "completed" if done else "in_progress"
    return item


def _message_item(turn: Turn, done: bool = False) -> dict:
    return {
        "id": turn.message_id,
        "type": "message",
        "role": "assistant",
        "content": [_text_part(turn.reply.text, _annotations(turn))] if done else [],
        "status": turn.status if done else "in_progress",
    }


def _annotations(turn: Turn) -> list[dict] | None:
    return list(turn.search.sources) if turn.search is not None else None


def _text_part(text: str, annotations: list[dict] | None = None) -> dict:
    part = {"type": "output_text", "text": text}
    if annotations is not None:
        part["annotations"] = annotations
    return part


def _fields(fields: dict) -> bytes:
    """`{"a":1,"b":2}` as `"a":1,"b":2`, to splice into a pre-encoded event."""
    return dumps(fields)[1:-1]
