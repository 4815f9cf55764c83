"""Estimate tokens and trim old history so a request fits the history budget.

The estimate needs no tokenizer: one token per CJK character (Doubao's tokenizer
averages a little under one per Han character) and one per four other characters,
plus `MESSAGE_OVERHEAD` per message for the role and separators. It errs on the
high side, so trimming keeps requests under the budget rather than just over it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MESSAGE_OVERHEAD = 4
CHARS_PER_TOKEN = 4
# Room kept for the reply when no max_tokens is set: a quarter of the window, at most this.
DEFAULT_REPLY_ROOM = 4096
# CJK punctuation, kana, Han (incl. extension A), Hangul, compatibility and full-width forms.
_CJK = re.compile(
    r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)

Message = tuple[str, str]


def estimate_tokens(text: str) -> int:
    """Rough token count of `text` (see the module docstring)."""
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + -(-other // CHARS_PER_TOKEN)


def message_tokens(content: str) -> int:
    """Estimated tokens of one chat message, overhead included."""
    return estimate_tokens(content) + MESSAGE_OVERHEAD


def trim_history(
    history: Sequence[Message],
    budget: int,
    *,
    system_prompt: str = "",
    new_message: str = "",
    images: Sequence[int] = (),
    new_images: int = 0,
) -> list[Message]:
    """Drop the oldest whole turns of `history` until everything fits `budget` tokens.

    A turn is a user message with the replies that follow it, so a user message never
    loses its answer. The system prompt and the new message are always kept and
    counted, even when they alone exceed the budget (then no history is sent). The
    images each message carries count too: `images` holds their tokens per message of
    `history` (none when shorter), `new_images` those of the new message's.
    """
    fixed = fixed_tokens(system_prompt, new_message) + new_images
    costs_of = [message_tokens(content) for _, content in history]
    for index, tokens in enumerate(images[: len(costs_of)]):
        costs_of[index] += tokens
    turns = _group_turns(list(zip(history, costs_of, strict=True)))
    costs = [sum(cost for _, cost in turn) for turn in turns]
    total = fixed + sum(costs)
    first = 0
    while first < len(turns) and total > budget:
        total -= costs[first]
        first += 1
    return [message for turn in turns[first:] for message, _ in turn]


def _group_turns(history: Sequence[tuple[Message, int]]) -> list[list[tuple[Message, int]]]:
    turns: list[list[tuple[Message, int]]] = []
    for message, cost in history:
        if message[0] == "user" or not turns:
            turns.append([])
        turns[-1].append((message, cost))
    return turns


def prefix_messages(
    system_prompt: str,
    history: Sequence[Message],
    budget: int,
    new_message: str,
    *,
    images: Sequence[int] = (),
    new_images: int = 0,
) -> list[dict[str, str]]:
    """The system prompt (if any) and the trimmed history, as API message dicts
    (`images` and `new_images` as `trim_history` takes them)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    kept = trim_history(
        history,
        budget,
        system_prompt=system_prompt,
        new_message=new_message,
        images=images,
        new_images=new_images,
    )
    messages.extend({"role": role, "content": content} for role, content in kept)
    return messages


def reply_room(window: int, max_tokens: int | None) -> int:
    """Tokens of the context window kept free for the reply: `max_tokens` when set,
    else a quarter of the window, at most `DEFAULT_REPLY_ROOM`."""
    if max_tokens is not None:
        return max_tokens
    return min(DEFAULT_REPLY_ROOM, window // 4)


def prompt_limit(window: int, max_tokens: int | None) -> int:
    """The most tokens a request's messages may hold in a `window`-token context."""
    return max(0, window - reply_room(window, max_tokens))


def fixed_tokens(system_prompt: str, new_message: str, answer_start: str | None = None) -> int:
    """Estimated tokens of what every request sends whatever the history: the system
    prompt, the new message and, when continuing a cut reply, its text so far."""
    tokens = message_tokens(new_message)
    if system_prompt:
        tokens += message_tokens(system_prompt)
    if answer_start is not None:
        tokens += message_tokens(answer_start)
    return tokens
