"""Deterministic replies and token counts, so tests can wait for known text.

* The answer is "Echo: <last user message>"; the reasoning is "Thinking about: <same>".
* A prompt containing "#tokens=N" (or `ArkEmulator.reply_tokens = N`) instead gets exactly N
  content tokens "w1 w2 ... wN"; the prompt directive wins over the global setting.
* A message containing "#input_tokens=N" counts as N input tokens (a long prompt, to
  reach a price tier, without sending one); images count as in `content`.
* Thinking: type "enabled" always reasons first; "auto" reasons only when the user message
  is longer than 20 characters; "disabled" or absent never does. `ArkEmulator.reasoning`
  True or False overrides the request, like a model that always or never reasons.
* A token is one CJK character, or one run of other non-space characters, each with the
  whitespace that follows it, so joining a reply's tokens gives back its exact text.
* A request whose messages end with an assistant message (a "prefill") continues that
  answer: when it is the start of the planned reply, only the rest is sent, and nothing
  is reasoned first. So a reply cut at `max_tokens` is completed by continuing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .content import describe_images, image_tokens
from .faults import Fault, Injection

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_CJK}]\s*|[^\s{_CJK}]+\s*|\s+")
_DIRECTIVE = re.compile(r"#tokens=(\d+)")
_INPUT_DIRECTIVE = re.compile(r"#input_tokens=(\d{1,9})")
_MAX_FORCED_TOKENS = 1_000_000
AUTO_THINKING_MIN_CHARS = 20


def split_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def message_text(content: object) -> str:
    """The text of a message `content`: a string or a list of parts with a `text` key."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def count_message_tokens(messages: Iterable[dict]) -> int:
    """Estimated prompt tokens: the tokens of each message's text (at least 1), or the N
    of an "#input_tokens=N" it holds (to reach a price tier), plus its images' tokens."""
    return sum(_message_tokens(m.get("content")) for m in messages)


def last_user_text(messages: list[dict]) -> str:
    """The last user message's text, with a note of each image it holds."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return message_text(content) + describe_images(content)
    return ""


def _message_tokens(content: object) -> int:
    text = message_text(content)
    stated = _INPUT_DIRECTIVE.search(text)
    counted = int(stated.group(1)) if stated else max(1, len(split_tokens(text)))
    return counted + image_tokens(content)


def answer_start(messages: list[dict]) -> str | None:
    """The text of a final assistant message (the answer to continue), else None."""
    if messages and messages[-1].get("role") == "assistant":
        return message_text(messages[-1].get("content"))
    return None


@dataclass
class Reply:
    """What the model says, already cut by limits and faults."""

    reasoning: list[str]
    content: list[str]
    finish_reason: str = "stop"  # stop | length | content_filter
    failure: Fault | None = None  # Fault.STREAM_ERROR or Fault.DROP after `content`

    @property
    def text(self) -> str:
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        return "".join(self.reasoning)

    @property
    def output_tokens(self) -> int:
        return len(self.reasoning) + len(self.content)


@dataclass
class ReplyLimits:
    """`answer`: max_tokens (content only); `total`: max_completion/output_tokens (both)."""

    answer: int | None = None
    total: int | None = None


def plan_reply(
    prompt: str,
    reasons: bool,
    forced_tokens: int | None = None,
    limits: ReplyLimits | None = None,
    injection: Injection | None = None,
    start: str | None = None,
) -> Reply:
    """The reply to `prompt` (the last user message's text); `reasons`: think first;
    `start`: the answer so far, to be continued."""
    forced = _directive_tokens(prompt)
    if forced is None:
        forced = forced_tokens
    content = numbered_tokens(forced) if forced is not None else split_tokens(f"Echo: {prompt}")
    if start is not None:
        content, reasons = _rest(content, start), False
    reasoning = split_tokens(f"Thinking about: {prompt}") if reasons else []
    reply = Reply(reasoning, content)
    _apply_limits(reply, limits or ReplyLimits())
    if injection is not None:
        _apply_fault(reply, injection)
    return reply


def wants_reasoning(thinking: str | None, prompt: str) -> bool:
    """Whether a request with `thinking.type` = `thinking` reasons about `prompt`."""
    if thinking == "enabled":
        return True
    return thinking == "auto" and len(prompt) > AUTO_THINKING_MIN_CHARS


def numbered_tokens(n: int) -> list[str]:
    n = max(0, min(n, _MAX_FORCED_TOKENS))
    return [f"w{i} " for i in range(1, n)] + ([f"w{n}"] if n else [])


def chat_usage(prompt_tokens: int, cached_tokens: int, reply: Reply) -> dict:
    """A complete chat `usage`; completion_tokens includes the reasoning tokens."""
    completion = reply.output_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": len(reply.reasoning)},
    }


def _rest(tokens: list[str], start: str) -> list[str]:
    """The tokens after `start` when it is their beginning (trailing spaces aside), else
    all of them: a model continues its own answer, or writes one after a foreign start."""
    said = start.rstrip()
    text = ""
    for index, token in enumerate(tokens):
        if len(text.rstrip()) >= len(said):
            return tokens[index:] if text.rstrip() == said else tokens
        text += token
    return [] if text.rstrip() == said else tokens


def _directive_tokens(prompt: str) -> int | None:
    match = _DIRECTIVE.search(prompt)
    return int(match.group(1)) if match else None


def _apply_limits(reply: Reply, limits: ReplyLimits) -> None:
    if limits.total is not None:
        reply.reasoning = reply.reasoning[: max(0, limits.total)]
        _cut_content(reply, limits.total - len(reply.reasoning))
    if limits.answer is not None:
        _cut_content(reply, limits.answer)


def _cut_content(reply: Reply, room: int) -> None:
    room = max(0, room)
    if len(reply.content) > room:
        reply.content = reply.content[:room]
        reply.finish_reason = "length"


def _apply_fault(reply: Reply, injection: Injection) -> None:
    if injection.kind not in (Fault.CONTENT_FILTER, Fault.STREAM_ERROR, Fault.DROP):
        return
    reply.content = reply.content[: injection.after_tokens]
    if injection.kind is Fault.CONTENT_FILTER:
        reply.finish_reason = "content_filter"
    else:
        reply.failure = injection.kind
