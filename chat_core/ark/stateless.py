"""Cache mode "off": every turn sends the system prompt, the history and the new message.

Old turns are dropped (oldest first) to fit `TurnRequest.history_tokens`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .chat_stream import Transcript, read_chat_stream
from .events import Event, TurnRequest
from .history import prefix_messages


def stream_stateless(client: Any, request: TurnRequest, transcript: Transcript) -> Iterator[Event]:
    """Stream one turn through Chat Completions with the full (trimmed) history."""
    messages = prefix_messages(
        request.system_prompt, request.history, request.history_tokens, request.new_message
    )
    messages.append({"role": "user", "content": request.new_message})
    stream = client.chat.completions.create(
        model=request.model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        thinking={"type": request.thinking},
    )
    yield from read_chat_stream(stream, transcript)
