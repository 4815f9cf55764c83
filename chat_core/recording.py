"""Recording a reply in the store: the half of a reply that saves.

The row is written as the reply begins, refreshed about every second while it streams,
and finished whatever happens (complete, failed, or abandoned by a rerun or a closed
tab), so a cut-off reply keeps the text that arrived. The reply's session keeps the
model's cache state of a complete turn, and drops it after any other in a caching mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .ark import Usage
from .errors import ChatError, DatabaseLockedError, DatabaseUnavailableError, ReplyReplacedError
from .response import Response
from .store import Message, Session, Store

log = logging.getLogger(__name__)
PROGRESS_SAVE_SECONDS = 1.0
FINAL_SAVE_TRIES = 3
UNAVAILABLE_WAIT_SECONDS = 2.0  # between final saves while the server is away


class ReplyRecorder:
    """Keeps one reply's row (and its session's cache state) in step with a `Response`.

    `message` is the row as last saved; `saved` is True once the final state is in.
    """

    def __init__(
        self,
        store: Store,
        session: Session,
        *,
        model: str | None,
        cache_mode: str,
        save_every: float = PROGRESS_SAVE_SECONDS,
        reply_to: int | None = None,
        model_alias: str | None = None,
    ) -> None:
        self.store, self.session = store, session
        self.model, self.cache_mode, self.save_every = model, cache_mode, save_every
        # The catalogue model the endpoint serves: a new row keeps it (a resumed one
        # keeps its own).
        self.model_alias = model_alias
        # The message this reply answers (None: the branch's last message).
        self.reply_to = reply_to
        # A cut reply this one carries on (its row streams again), instead of a new row.
        self.resumed: Message | None = None
        self.message: Message | None = None
        self.saved = False
        # True once the final save has begun: a row found ended since is its own end.
        self.finishing = False
        # Called with the row after every save: a watcher shows only what is stored.
        self.on_save: Callable[[Message], None] | None = None
        self.first_token_ms: int | None = None
        # The (status, error) of an end `finish` could not save yet (None: nothing due).
        self._end: tuple[str, ChatError | None] | None = None
        self._started = self._saved_at = 0.0
        self._text_saved = False
        self._stopped = False

    def begin(self) -> Message:
        """Write the empty `streaming` row; the reply's latency counts from here."""
        self._started = self._saved_at = time.monotonic()
        if self.resumed is not None:
            self.message = self.store.reopen_reply(
                self.session, self.resumed.id, model_alias=self.model_alias
            )
        else:
            self.message = self.store.begin_reply(
                self.session,
                model=self.model,
                reply_to=self.reply_to,
                model_alias=self.model_alias,
            )
        if self.on_save is not None:
            self.on_save(self.message)
        return self.message

    def first_text(self) -> None:
        """Note that the reply's first text (reasoning or answer) has arrived."""
        if self.first_token_ms is None:
            self.first_token_ms = self._elapsed_ms()

    def progress(self, response: Response) -> None:
        """Save the text so far: the first text at once (a watcher shows only what is
        saved, so the first token must not wait), then once `save_every` seconds have
        passed since the last save. Raises `ReplyReplacedError` when the row is no
        longer this reply's."""
        if self._stopped:
            return
        first = not self._text_saved and (response.content or response.reasoning)
        if first or time.monotonic() - self._saved_at >= self.save_every:
            self._saved_at = time.monotonic()
            self._text_saved = bool(response.content or response.reasoning)
            try:
                self._save(response, "streaming", None)
            except (DatabaseLockedError, DatabaseUnavailableError) as exc:
                # Another writer held the database past the busy timeout, or the server
                # is away a moment (a restart): the reply goes on, and the next save (or
                # the final one) writes what it missed. Not tried again at once: each
                # try holds the reply up for the busy timeout.
                log.warning("reply %s: a progress save failed (%s)", self._id, exc.code)
                self._saved_at = time.monotonic() + UNAVAILABLE_WAIT_SECONDS

    def finish(self, response: Response, status: str, error: ChatError | None) -> None:
        """Save the final state, then the session's cache state.

        Nothing is written when the row was replaced. A failed save of a reply that did
        not complete is only logged, so the reply's own error stays the one raised.
        """
        if isinstance(error, ReplyReplacedError) or self._stopped:
            return  # the row is not ours any more, or Stop saved its end
        self.finishing = True
        if status != "complete" and self.adds_nothing(response.text, response.reasoning_text):
            status, error = "complete", None  # the cut answer, as it was: continuable
        self._end = (status, error)
        try:
            self._final_save(response, status, error)
            self.saved = True
            self._store_cache_state(response, status)
            self._end = None
        except ReplyReplacedError:
            self._end = None
            raise
        except ChatError as exc:
            log.exception("could not save the final state of reply %s", self._id)
            said = end_not_saved(exc)
            if status == "complete" and said is None:
                raise
            if status == "complete":
                raise said from exc

    @property
    def end_due(self) -> bool:
        """True while the end that `finish` began is not all in the store (nor did Stop
        save one): `save_end` tries it again."""
        return self._end is not None and not self._stopped

    def save_end(self, response: Response) -> None:
        """Try once more to save the end `finish` could not (the final row, then the
        session's cache state). Raises what the store raised: `ReplyReplacedError` when
        the row is no longer this reply's."""
        if not self.end_due:
            return
        status, error = self._end
        try:
            if not self.saved:
                self._save(response, status, error)
                self.saved = True
            self._store_cache_state(response, status)
        except ReplyReplacedError:
            self._end = None
            raise
        self._end = None

    def stop_writing(self) -> None:
        """Stop saves the reply's end itself: nothing that arrives after is written (a
        Continue may by then stream the same row again)."""
        self._stopped = True

    def adds_nothing(self, text: str, reasoning: str | None) -> bool:
        """Whether a continued answer ends as it was: a Continue that failed or was
        stopped before any new text leaves it complete and cut, to be continued again."""
        resumed = self.resumed
        return (
            resumed is not None
            and text == resumed.content
            and (reasoning or None) == (resumed.reasoning_content or None)
        )

    def _final_save(self, response: Response, status: str, error: ChatError | None) -> None:
        """The final save, tried again while another writer holds the database (each
        try waits out the busy timeout)."""
        for _ in range(FINAL_SAVE_TRIES - 1):
            try:
                return self._save(response, status, error)
            except (DatabaseLockedError, DatabaseUnavailableError) as exc:
                log.warning("reply %s: the final save failed (%s)", self._id, exc.code)
                if not isinstance(exc, DatabaseLockedError):
                    time.sleep(UNAVAILABLE_WAIT_SECONDS)  # a lock waits in the try itself
        self._save(response, status, error)

    @property
    def _id(self) -> int | None:
        return self.message.id if self.message is not None else None

    def _save(self, response: Response, status: str, error: ChatError | None) -> None:
        usage = response.usage
        stored_error = error.as_dict() if error is not None else {"code": None, "params": None}
        # A complete turn's Responses id: the next turn on this branch chains from it.
        chain = response.cache.response_id if status == "complete" and response.cache else None
        self.message = self.store.save_reply(
            self.session,
            self.message.id,
            content=response.text,
            reasoning=response.reasoning_text,
            status=status,
            model=usage.model if usage and usage.model else None,
            usage=usage_columns(usage),
            latency_ms=self._elapsed_ms(),
            first_token_ms=self.first_token_ms,
            error_code=stored_error["code"],
            error_params=stored_error["params"],
            finish_reason=response.finish,
            response_id=chain,
            sources=response.sources or None,
        )
        if self.on_save is not None:
            self.on_save(self.message)

    def _elapsed_ms(self) -> int:
        return round((time.monotonic() - self._started) * 1000)

    def _store_cache_state(self, response: Response, status: str) -> None:
        if status == "complete" and response.cache is not None:
            self.session = self.store.set_cache_state(
                self.session,
                context_id=response.cache.context_id,
                context_expires_at=response.cache.context_expires_at,
                response_id=response.cache.response_id,
                context_leaf_id=self.message.id if response.cache.context_id else None,
            )
        elif status != "complete" and self.cache_mode != "off":
            # The service may hold part of this turn; replay from the store next time.
            self.session = self.store.set_cache_state(self.session)


def end_not_saved(exc: ChatError) -> ChatError | None:
    """The error that says a reply's end was not saved because of the store's error
    `exc`, when `exc` would say "nothing was saved" (the chat keeps the text of the last
    save); None when `exc` says it well enough (a read-only database)."""
    if isinstance(exc, DatabaseLockedError):
        return DatabaseLockedError("reply_end_busy")
    if isinstance(exc, DatabaseUnavailableError) and exc.code == "database_unreachable":
        return DatabaseUnavailableError("reply_end_unreachable")
    return None


def usage_columns(usage: Usage | None) -> dict | None:
    """A reply's usage as the message columns that hold it (None without usage)."""
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "tier_prompt_tokens": usage.tier_prompt_tokens,
        "tier_completion_tokens": usage.tier_completion_tokens,
    }
