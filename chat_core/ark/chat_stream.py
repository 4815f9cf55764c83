"""Read a Chat Completions stream (plain or Context API) into turn events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors_map import interrupted_error
from .events import FINISH_REASONS, ContentDelta, Event, Finish, ReasoningDelta, Usage


class Transcript:
    """The text streamed so far, kept so a failure can hand it back as `partial`."""

    __slots__ = ("content", "reasoning")

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []


def read_chat_stream(stream: Any, transcript: Transcript) -> Iterator[Event]:
    """Yield deltas as chunks arrive, then `Usage` (when reported) and `Finish`.

    Closing this generator early closes the SDK stream and its HTTP connection.
    """
    content, reasoning = transcript.content, transcript.reasoning
    finish_reason = usage = model = None
    with stream:
        for chunk in stream:
            if chunk.usage is not None:
                usage, model = chunk.usage, chunk.model
            if not chunk.choices:
                continue  # the usage-only chunk at the end has no choices
            choice = chunk.choices[0]
            delta = choice.delta
            if delta is not None:
                text = delta.reasoning_content
                if text:
                    reasoning.append(text)
                    yield ReasoningDelta(text)
                text = delta.content
                if text:
                    content.append(text)
                    yield ContentDelta(text)
            if choice.finish_reason:
                finish_reason = choice.finish_reason
    if finish_reason is None:
        # The connection closed cleanly but the reply never said it was done.
        raise interrupted_error()
    if usage is not None:
        yield chat_usage(usage, model)
    yield Finish(normalize_finish(finish_reason))


def chat_usage(usage: Any, model: str | None) -> Usage:
    """`Usage` from a Chat/Context `usage` object (or the raw dict the SDK may leave)."""
    prompt_details = field(usage, "prompt_tokens_details")
    completion_details = field(usage, "completion_tokens_details")
    return Usage(
        prompt_tokens=field(usage, "prompt_tokens") or 0,
        completion_tokens=field(usage, "completion_tokens") or 0,
        cached_tokens=field(prompt_details, "cached_tokens") or 0,
        reasoning_tokens=field(completion_details, "reasoning_tokens") or 0,
        model=model,
    )


def normalize_finish(reason: str) -> str:
    """Fold finish reasons the app does not use (tool calls) into "stop"."""
    return reason if reason in FINISH_REASONS else "stop"


def field(obj: Any, name: str) -> Any:
    """`obj.name` or `obj[name]`, or None: SDK usage objects can be models or dicts."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
