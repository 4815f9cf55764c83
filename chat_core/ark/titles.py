"""A short title for a chat: one small request to the chat's model, with thinking off
(where the model allows it) and a tight token limit, so it costs a few dozen tokens and
arrives in well under a second.
"""

from __future__ import annotations

from typing import Any

import httpx
from volcenginesdkarkruntime._exceptions import ArkError

from ..errors import ChatError
from .errors_map import to_chat_error
from .params import CHAT, body

TITLE_MAX_TOKENS = 24
TITLE_TIMEOUT_SECONDS = 15.0
EXCERPT_CHARS = 1_500  # of the question and of the answer: enough to say what it is about
INSTRUCTION = (
    "Write a title of at most six words for the conversation below, in the language of "
    "the user's message. Reply with the title only: no quotes, no final punctuation."
)


def ask_title(
    client: Any,
    model: str,
    question: str,
    answer: str,
    provider: str = "ark",
    thinking: str = "disabled",
) -> str:
    """The model's title for a chat that starts with `question` and `answer` (raw text:
    the caller cleans and shortens it), asked in the `thinking` mode; its reasoning, if
    any, is left out (`max_tokens` bounds the answer alone). Raises a `ChatError` on any
    failure. The request carries no nulls, nor Ark's thinking switch unless `provider`
    is Ark."""
    conversation = f"User: {question[:EXCERPT_CHARS]}\n\nAssistant: {answer[:EXCERPT_CHARS]}"
    messages = [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": conversation},
    ]
    options = {"max_tokens": TITLE_MAX_TOKENS, "thinking": {"type": thinking}}
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=messages,
            **body(CHAT, provider, stream=False, **options),
            timeout=TITLE_TIMEOUT_SECONDS,
        )
    except (ArkError, httpx.TransportError) as exc:
        raise to_chat_error(exc) from exc
    choices = getattr(completion, "choices", None) or []
    text = choices[0].message.content if choices else None
    if not isinstance(text, str) or not text.strip():
        raise ChatError("title_empty")
    return text
