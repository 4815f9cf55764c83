"""What one reply streamed, accumulated: the pure half of a reply.

`Response` only collects events; it knows no store, client or UI. Saving it is
`recording.ReplyRecorder`'s job, as llm keeps `Response` apart from `log_to_db`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ark import (
    CacheUpdate,
    ContentDelta,
    Event,
    Finish,
    ReasoningDelta,
    SearchProgress,
    Sources,
    Usage,
)
from .errors import ChatError, ContentFilterError
from .sources import clean_sources


@dataclass
class Response:
    """The text, reasoning, usage, finish reason, cache update and web sources of one
    reply."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish: str | None = None
    cache: CacheUpdate | None = None
    # Web pages the answer cites (cleaned), and whether a web search is running.
    sources: list[dict] = field(default_factory=list)
    searching: bool = False

    def add(self, event: Event) -> bool:
        """Record `event`; True when it is text for the reader (a content or reasoning
        delta), False for what only the record needs."""
        if isinstance(event, ContentDelta):
            self.content.append(event.text)
            return True
        if isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
            return True
        if isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish = event.reason
        elif isinstance(event, CacheUpdate):
            self.cache = event
        elif isinstance(event, Sources):
            self.sources = clean_sources(event.items)
        elif isinstance(event, SearchProgress):
            self.searching = event.status == "searching"
        return False

    @property
    def text(self) -> str:
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str | None:
        return "".join(self.reasoning) or None

    def failure(self) -> ChatError | None:
        """The error of a stream that ended normally yet failed (moderation stopped the
        reply), as a new exception each call; None when it succeeded."""
        if self.finish == "content_filter":
            return ContentFilterError("reply_filtered")
        return None
