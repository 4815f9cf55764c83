"""Cache mode "off": every turn sends the system prompt, the history and the new message.

Old turns are dropped (oldest first) to fit `TurnRequest.history_tokens`. A reply cut at
the token limit is continued the same way in every mode: its text so far goes last, as
the start of the assistant's answer, which the model carries on (Ark's "prefill
response"; llama.cpp and Ollama read a final assistant message the same way; vLLM does
when asked with `continue_final_message`, which only a server that says it is vLLM is
sent, as other servers may refuse a parameter they do not know).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import content
from .chat_stream import Transcript, read_chat_stream
from .content import with_history_images
from .events import CacheUpdate, Event, TurnRequest
from .history import message_tokens, prefix_messages
from .params import CHAT, body


def stream_stateless(client: Any, request: TurnRequest, transcript: Transcript) -> Iterator[Event]:
    """Stream one turn through Chat Completions with the full (trimmed) history."""
    messages = prefix_messages(
        request.system_prompt,
        request.history,
        request.history_tokens,
        request.new_message,
        **content.image_tokens(request),
    )
    messages = with_history_images(messages, request, content.CHAT)
    messages.append(content.new_message(request, content.CHAT))
    yield from read_chat_stream(_open(client, request, messages), transcript)


def stream_continuation(
    client: Any, request: TurnRequest, transcript: Transcript
) -> Iterator[Event]:
    """Stream the rest of a reply cut at the token limit (`request.continue_from`)."""
    answer_start = request.continue_from or ""
    budget = request.history_tokens - message_tokens(answer_start)
    messages = prefix_messages(
        request.system_prompt,
        request.history,
        budget,
        request.new_message,
        **content.image_tokens(request),
    )
    messages = with_history_images(messages, request, content.CHAT)
    messages.append(content.new_message(request, content.CHAT))
    messages.append({"role": "assistant", "content": answer_start})
    yield from read_chat_stream(_open(client, request, messages, continues=True), transcript)
    if request.cache_mode != "off":
        # The cached conversation holds the cut reply: the next turn replays the history.
        yield CacheUpdate(None, None, None)


# vLLM answers after a final assistant message unless told to continue it instead.
VLLM_CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}


def _open(client: Any, request: TurnRequest, messages: list[dict], continues: bool = False) -> Any:
    extra = VLLM_CONTINUE if continues and request.served_by == "vllm" else None
    return client.chat.completions.create(
        extra_body=extra,
        **body(
            CHAT,
            request.provider,
            model=request.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            thinking={"type": request.thinking},
            reasoning_effort=request.reasoning_effort,
        ),
    )
