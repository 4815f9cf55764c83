"""The Ark model layer: the only code in the project that imports the Ark SDK.

`make_client(settings)` builds a client; `stream_turn(client, TurnRequest(...))`
streams one turn as events; failures arrive as `chat_core.errors.ChatError`s.
"""

from .client import make_client
from .errors_map import to_chat_error
from .events import (
    CacheUpdate,
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    TurnRequest,
    Usage,
)
from .history import estimate_tokens, trim_history
from .turn import stream_turn

__all__ = [
    "CacheUpdate",
    "ContentDelta",
    "Event",
    "Finish",
    "ReasoningDelta",
    "TurnRequest",
    "Usage",
    "estimate_tokens",
    "make_client",
    "stream_turn",
    "to_chat_error",
    "trim_history",
]
