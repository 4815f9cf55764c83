"""One assistant reply end to end: build the request, stream it, and save it whatever
happens (finished, failed, or abandoned by a rerun or a closed tab).

The UI iterates a `Reply`; the store row is written as the reply starts, refreshed while
it streams, and finished in a `finally`, so a cut-off reply keeps the text that arrived.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from . import ark
from .ark import CacheUpdate, ContentDelta, Finish, ReasoningDelta, TurnRequest, Usage
from .ark.history import message_tokens
from .config import Settings
from .errors import ChatError, ContentFilterError, InvalidInputError, ReplyReplacedError
from .pricing import PriceTable, SessionCost, cost, session_cost
from .store import Message, Session, Store
from .text import check_message

log = logging.getLogger(__name__)
PROGRESS_SAVE_SECONDS = 1.0
HISTORY_PAGE = 100


def effective(session: Session, settings: Settings) -> dict:
    """The session's settings with the configured defaults filled in."""
    return {
        "model": session.model or settings.model,
        "system_prompt": settings.system_prompt
        if session.system_prompt is None
        else session.system_prompt,
        "temperature": settings.temperature if session.temperature is None else session.temperature,
        "thinking": session.thinking or settings.thinking,
        "cache_mode": session.cache_mode or settings.cache,
    }


def build_request(settings: Settings, session: Session, messages: list[Message]) -> TurnRequest:
    """The request for a reply to the last message of `messages` (a user message)."""
    *earlier, last = messages
    chosen = effective(session, settings)
    history = [(m.role, m.content) for m in earlier if m.content.strip()]
    return TurnRequest(
        model=chosen["model"],
        new_message=last.content,
        history=history,
        system_prompt=chosen["system_prompt"] or "",
        temperature=chosen["temperature"],
        max_tokens=settings.max_tokens,
        thinking=chosen["thinking"],
        cache_mode=chosen["cache_mode"],
        context_id=session.ark_context_id,
        context_expires_at=session.ark_context_expires_at,
        previous_response_id=session.response_id,
        context_ttl=settings.context_ttl,
        history_tokens=settings.history_tokens,
    )


class Reply:
    """Iterate to stream the reply's `ContentDelta`s and `ReasoningDelta`s; use it as a
    context manager so an abandoned reply is saved at once.

    A `ChatError` from the service is re-raised after the partial reply is saved with
    status `error`; abandoning the iteration saves it as `interrupted`.
    """

    def __init__(self, store: Store, session: Session, client, request: TurnRequest) -> None:
        self.store, self.session, self.client, self.request = store, session, client, request
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.cache: CacheUpdate | None = None
        self.status = "streaming"
        self.error: ChatError | None = None
        self.message: Message | None = None
        self.saved = False  # True once the final state is in the store
        self._events: Iterator | None = None

    def __iter__(self) -> Iterator[ContentDelta | ReasoningDelta]:
        if self._events is None:
            self._events = self._run()
        return self._events

    def close(self) -> None:
        """Save now if the iteration was abandoned (Streamlit stops a run between chunks,
        outside the generator, which would otherwise be closed only when collected)."""
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def text(self) -> str:
        return "".join(self.content)

    def _run(self) -> Iterator[ContentDelta | ReasoningDelta]:
        started = time.monotonic()
        self.message = self.store.begin_reply(self.session, model=self.request.model)
        last_save = started
        self.status = "interrupted"
        try:
            # Closed as soon as this loop is left, so a stopped reply ends its request.
            with contextlib.closing(ark.stream_turn(self.client, self.request)) as events:
                for event in events:
                    if isinstance(event, ContentDelta):
                        self.content.append(event.text)
                        yield event
                    elif isinstance(event, ReasoningDelta):
                        self.reasoning.append(event.text)
                        yield event
                    else:
                        self._note(event)
                    if time.monotonic() - last_save >= PROGRESS_SAVE_SECONDS:
                        last_save = time.monotonic()
                        self._save("streaming", started)
            self.status, self.error = self._outcome()
        except ChatError as exc:
            self.status, self.error = "error", exc
            raise
        except Exception as exc:  # a bug: keep the text, then let it surface
            self.status = "error"
            self.error = ChatError("unexpected_failure", kind=type(exc).__name__)
            raise
        finally:
            self._finish(started)
        if self.error is not None:
            raise self.error

    def _note(self, event) -> None:
        if isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish = event.reason
        elif isinstance(event, CacheUpdate):
            self.cache = event

    def _outcome(self) -> tuple[str, ChatError | None]:
        if self.finish == "content_filter":
            return "error", ContentFilterError("reply_filtered")
        return "complete", None

    def _save(self, status: str, started: float) -> None:
        usage = None
        if self.usage is not None:
            usage = {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens,
                "reasoning_tokens": self.usage.reasoning_tokens,
            }
        self.message = self.store.save_reply(
            self.session,
            self.message.id,
            content=self.text,
            reasoning="".join(self.reasoning) or None,
            status=status,
            model=self.usage.model if self.usage and self.usage.model else None,
            usage=usage,
            latency_ms=round((time.monotonic() - started) * 1000),
            # The error's code and parameters, rendered in the reader's language later.
            error_code=self.error.code if self.error else None,
            error_params=self.error.as_dict()["params"] if self.error else None,
        )

    def _finish(self, started: float) -> None:
        if isinstance(self.error, ReplyReplacedError):
            return  # the row is not ours any more: nothing to save
        try:
            self._save(self.status, started)
            self.saved = True
            self._store_cache_state()
        except ReplyReplacedError as exc:
            self.status, self.error = "error", exc
            raise
        except ChatError:
            log.exception("could not save the final state of reply %s", self.message.id)
            if self.status == "complete":
                raise

    def _store_cache_state(self) -> None:
        if self.status == "complete" and self.cache is not None:
            self.session = self.store.set_cache_state(
                self.session,
                context_id=self.cache.context_id,
                context_expires_at=self.cache.context_expires_at,
                response_id=self.cache.response_id,
            )
        elif self.status != "complete" and self.request.cache_mode != "off":
            # The service may hold part of this turn; replay from the store next time.
            self.session = self.store.set_cache_state(self.session)


def send(store: Store, settings: Settings, session: Session, client, text: str) -> Reply:
    """Store the user's message (marking the session used) and return its `Reply`."""
    store.start_turn(session, text)
    return reply_to_last(store, settings, session, client)


def reply_to_last(store: Store, settings: Settings, session: Session, client) -> Reply:
    """A `Reply` to the session's last message, which must be the user's."""
    session = store.get_session(session.owner, session.id)
    messages = recent_messages(store, session, settings.history_tokens)
    if not messages or messages[-1].role != "user":
        raise InvalidInputError("nothing_to_answer")
    return Reply(store, session, client, build_request(settings, session, messages))


def recent_messages(store: Store, session: Session, budget: int) -> list[Message]:
    """The latest messages, oldest first, reaching back just past `budget` tokens.

    Older ones would be trimmed from the request anyway, so a long chat costs no more
    to answer than a short one.
    """
    messages: list[Message] = []
    tokens, before = 0, None
    while tokens < budget:
        page = store.get_messages(session, limit=HISTORY_PAGE, before=before)
        messages[:0] = page
        tokens += sum(message_tokens(m.content) for m in page)
        if len(page) < HISTORY_PAGE:
            break
        before = page[0].id
    return messages


def regenerate(store: Store, settings: Settings, session: Session, client) -> Reply:
    """Drop the last reply (complete, failed or interrupted) and answer again."""
    messages = store.get_messages(session, limit=2)
    if messages and messages[-1].role == "assistant":
        store.truncate_from(session, messages[-1].id)
    return reply_to_last(store, settings, session, client)


def edit_last(store: Store, settings: Settings, session: Session, client, text: str) -> Reply:
    """Replace the last user message (and its reply) with `text`, then answer it."""
    text = check_message(text, store.max_message_chars)
    last_user = next(
        (m for m in reversed(store.get_messages(session, limit=2)) if m.role == "user"), None
    )
    if last_user is None:
        raise InvalidInputError("nothing_to_edit")
    store.truncate_from(session, last_user.id)
    return send(store, settings, session, client, text)


def message_cost(message: Message, prices: PriceTable | None = None):
    """A stored reply's cost in CNY, or None without usage or a known price."""
    if message.prompt_tokens is None or message.completion_tokens is None:
        return None
    return cost(_usage(message), message.model, prices)


def chat_cost(store: Store, session: Session, prices: PriceTable | None = None) -> SessionCost:
    """The summed cost of a session's replies; `complete` is False when a price is unknown."""
    return session_cost(((_usage(m), m.model) for m in store.reply_usage(session)), prices)


def _usage(message: Message) -> Usage:
    return Usage(
        prompt_tokens=message.prompt_tokens,
        completion_tokens=message.completion_tokens or 0,
        cached_tokens=message.cached_tokens or 0,
        reasoning_tokens=message.reasoning_tokens or 0,
        model=message.model,
    )
