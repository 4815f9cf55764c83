"""The Ark model layer: the only code in the project that imports the Ark SDK.

`make_client(settings)` builds a client; `stream_turn(client, TurnRequest(...))`
streams one turn as events; failures arrive as `chat_core.errors.ChatError`s.

The SDK takes a noticeable part of a second to import, so the names that need it load
on first use: the app's first page does not wait for it.
"""

import importlib

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
from .history import estimate_tokens, trim_history

_LAZY = {
    "make_client": ".client",
    "to_chat_error": ".errors_map",
    "stream_turn": ".turn",
    "ask_title": ".titles",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CacheUpdate",
    "ContentDelta",
    "Event",
    "Finish",
    "ReasoningDelta",
    "SearchProgress",
    "Sources",
    "TurnRequest",
    "Usage",
    "ask_title",
    "estimate_tokens",
    "make_client",
    "stream_turn",
    "to_chat_error",
    "trim_history",
]
