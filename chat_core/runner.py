"""Replies written on worker threads, apart from the pages that watch them.

A page starts a reply and watches it. Leaving the page (another chat, New chat, a
reload, a closed tab) does not stop the reply: it completes and is saved as it would
have been, and a page that comes back watches it from where it is. Only Stop (or an
error) ends a reply early.

The worker saves the reply about four times a second and publishes only what it has
saved, so whatever a page shows is already in the store. Stop saves exactly the text
the page showed. A final save the store refuses (locked, read-only, its server away) is
tried again for a while, and meanwhile pages show all the text that arrived; if it
never goes in, the reply ends with that text and an error that says its end was not
saved. A maintenance thread tells the store that this process's replies are
still being written (a heartbeat), and finishes replies whose writer died: a killed
process, or this one before a restart. A page on another process sees a reply's saved
progress in the store, and its Stop ends the reply through the store as well.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from .ark import ContentDelta, SearchProgress
from .chat import Reply
from .errors import ChatError, InvalidInputError, ReplyLimitError, ReplyReplacedError
from .recording import end_not_saved
from .store import Message, Session, Store
from .store.rules import WRITER_SILENT_SECONDS

log = logging.getLogger(__name__)
PUBLISH_SECONDS = 0.1  # how often a streaming reply is saved, and so shown
BEAT_SECONDS = 5.0  # how often a live reply's row says its writer is alive
SWEEP_SECONDS = 15.0
SHUTDOWN_SECONDS = 3.0  # what a stopping process gives its replies' final saves
# How long a final save the store refuses is tried again: less than a silent writer is
# given, so no sweep takes the reply for abandoned meanwhile.
END_RETRY_SECONDS = 20.0
END_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0)  # between tries, the last one repeated
# How long an end the store never took stays shown from memory: until a sweep (of any
# process) has surely finished the reply's row.
UNSAVED_KEPT_SECONDS = WRITER_SILENT_SECONDS + 2 * SWEEP_SECONDS
MAX_RUNNING = 32  # replies at once in one process
MAX_PER_OWNER = 3  # replies at once for one user


@dataclass(frozen=True)
class Progress:
    """What a page can show of a live reply: only what is saved (all that arrived once a
    final save the store refused is tried again), with its timings.

    Times are `time.monotonic()` values of this process.
    """

    version: int
    started: float
    message: Message | None = None
    first_text_at: float | None = None
    answer_at: float | None = None
    # When the web search that is running began (None: no search is running).
    searching_since: float | None = None
    done: bool = False
    error: ChatError | None = None

    @property
    def phase(self) -> str:
        """`waiting` (for the model, retries included), `searching` (the web),
        `thinking`, `answering`, `done`."""
        if self.done:
            return "done"
        if self.answer_at is not None:
            return "answering"
        if self.searching_since is not None:
            return "searching"
        return "thinking" if self.first_text_at is not None else "waiting"


class LiveReply:
    """A reply being written on a worker thread; any number of pages may watch it."""

    def __init__(self, store: Store, reply: Reply, owner: str) -> None:
        self.store, self.reply, self.owner = store, reply, owner
        self.session_id = reply.session.id
        self._changed = threading.Condition()
        # A reply is begun (its row written) before it is handed to the runner.
        self._progress = Progress(version=0, started=time.monotonic(), message=reply.message)
        self._stop = threading.Event()
        self._unsaved_since: float | None = None  # when it ended with its end unsaved
        self.thread = threading.Thread(
            target=self._write, name=f"reply-{self.session_id}", daemon=True
        )

    @property
    def progress(self) -> Progress:
        return self._progress

    def wait(self, seen_version: int, timeout: float) -> Progress:
        """The progress once it is newer than `seen_version`, or after `timeout` s."""
        with self._changed:
            self._changed.wait_for(lambda: self._progress.version > seen_version, timeout)
            return self._progress

    def begun(self, timeout: float = 5.0) -> Message | None:
        """The reply's row once it is written (None if it failed before that)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._progress.message is not None or self._progress.done, timeout
            )
            return self._progress.message

    def stop(self, shown: str | None = None, *, reason: str | None = None) -> Message | None:
        """End the reply now and save it as interrupted with `shown`, the text the page
        showed (by default what was last published), and the error code `reason` when
        it was not the user who stopped it. Returns the final row; a reply that had
        already finished keeps its own end."""
        self._stop.set()
        current = self._progress
        if current.done or current.message is None:
            return current.message
        content = current.message.content if shown is None else shown
        reasoning = current.message.reasoning_content
        # A Continue stopped before any new text leaves the cut answer as it was.
        unchanged = self.reply.recorder.adds_nothing(content, reasoning)
        try:
            final = self.store.save_reply(
                self.reply.session,
                current.message.id,
                content=content,
                reasoning=reasoning,
                status="complete" if unchanged else "interrupted",
                latency_ms=round((time.monotonic() - current.started) * 1000),
                first_token_ms=current.message.first_token_ms,
                error_code=None if unchanged else reason,
            )
        except ReplyReplacedError:  # it finished (or was replaced) first
            return self.store.get_message(self.reply.session, current.message.id)
        # Saved: what the worker receives from now on is not (had this save failed, the
        # worker's own end would still be written).
        self.reply.recorder.stop_writing()
        if self.reply.request.cache_mode != "off":
            # The service holds more of this turn than the chat: replay it next time.
            self.store.set_cache_state(self.reply.session)
        self._publish(message=final, done=True)
        return final

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def kept_unsaved(self) -> bool:
        """True while an end the store never took is kept for pages to show: until a
        sweep has finished its row for certain (it is then shown as stored)."""
        if self._unsaved_since is None:
            return False
        return time.monotonic() - self._unsaved_since < UNSAVED_KEPT_SECONDS

    @property
    def end_unsaved(self) -> bool:
        """True once the reply ended with an end the store never took: its progress
        holds all the text that arrived, which any page of this process shows."""
        return self._progress.done and self._unsaved_since is not None

    @property
    def writing(self) -> bool:
        """True until the reply ends or is stopped (its thread may outlive a Stop)."""
        return not (self._stop.is_set() or self._progress.done)

    def beat(self) -> None:
        """Say the reply is alive; a row no longer streaming was ended elsewhere (Stop on
        a page of another process, or a sweep that took this process for dead): the
        reply ends with it, even while its request still waits for a first token."""
        message = self._progress.message
        if message is None or self._progress.done or self._stop.is_set():
            return
        if self.store.beat(self.reply.session, message.id):
            return
        if self.reply.recorder.finishing:
            return  # its own end, being saved: the steps after it (a title) are to come
        ended = self.stored(message)
        self._stop.set()
        self.reply.recorder.stop_writing()
        gone = None if ended else ReplyReplacedError("reply_replaced")
        self._publish(message=ended, done=True, error=gone)

    def stored(self, message: Message) -> Message | None:
        """The reply's row as stored now (another process may have ended it)."""
        try:
            return self.store.get_message(self.reply.session, message.id)
        except ChatError:  # the database is away: what this process last saved
            return message

    # --- the worker --------------------------------------------------------------------

    def _write(self) -> None:
        self.reply.recorder.save_every = PUBLISH_SECONDS
        self.reply.recorder.on_save = self._saved
        error = None
        try:
            with self.reply:
                for event in self.reply:
                    self._note(event)
                    if self._stop.is_set():
                        break  # Stop has saved the row; leaving closes the request
        except ChatError as exc:
            error = exc
        except Exception:  # a bug: the reply is saved as failed; keep the process alive
            log.exception("reply in chat %s failed", self.session_id)
        finally:
            if self.reply.recorder.end_due:
                error = self._retry_end(error)
            if not self._progress.done:  # Stop publishes its own end
                self._publish_end(error)

    def _retry_end(self, error: ChatError | None) -> ChatError | None:
        """Try the final save the store refused again, pausing a little longer each
        time, for up to `END_RETRY_SECONDS`; pages meanwhile show all the text that
        arrived. Returns the error the reply ends with: its own once the end is saved,
        else why the end was not saved."""
        recorder = self.reply.recorder
        self._publish(message=self._arrived())
        deadline = time.monotonic() + END_RETRY_SECONDS
        for attempt in itertools.count():
            time.sleep(END_RETRY_PAUSES[min(attempt, len(END_RETRY_PAUSES) - 1)])
            try:
                recorder.save_end(self.reply.response)
            except ReplyReplacedError as exc:  # ended elsewhere (Stop on another page)
                return exc
            except ChatError as exc:
                if time.monotonic() < deadline:
                    continue
                log.error("gave up saving the end of reply %s: %s", recorder.message.id, exc)
                if self.reply.status != "complete":
                    return error  # the reply's own failure (moderation, a cut stream) first
                return end_not_saved(exc) or exc
            if self.reply.status != "complete":
                return error
            # Saved: a complete reply's only error was its end not being saved; the
            # steps after a complete answer (its chat's title) are still due.
            try:
                self.reply.run_after_complete()
            except ChatError as exc:
                log.info("a step after reply %s failed: %s", recorder.message.id, exc)
            return None

    def _publish_end(self, error: ChatError | None) -> None:
        message = self.reply.message
        if self.reply.recorder.end_due:  # never saved: the page shows all that arrived
            self._unsaved_since = time.monotonic()
            self._publish(message=self._arrived(), done=True, error=error)
            return
        if isinstance(error, ReplyReplacedError) and message is not None:
            message = self.stored(message)  # ended elsewhere: that end
        self._publish(message=message, done=True, error=None if self._stop.is_set() else error)

    def _arrived(self) -> Message:
        """The reply's row with all the text that arrived, saved or not."""
        response = self.reply.response
        return replace(
            self.reply.message,
            content=response.text,
            reasoning_content=response.reasoning_text or None,
        )

    def _note(self, event) -> None:
        now = time.monotonic()
        current = self._progress
        if isinstance(event, SearchProgress):
            searching = event.status == "searching"
            if searching != (current.searching_since is not None):
                self._publish(searching_since=now if searching else None)
            return
        if current.first_text_at is None:
            self._publish(first_text_at=now)
        if isinstance(event, ContentDelta) and current.answer_at is None:
            self._publish(answer_at=now, searching_since=None)

    def _saved(self, message: Message) -> None:
        if not self._stop.is_set():
            self._publish(message=message)

    def _publish(self, **changes) -> None:
        with self._changed:
            self._progress = replace(self._progress, version=self._progress.version + 1, **changes)
            self._changed.notify_all()


def stop_elsewhere(store: Store, session: Session, message_id: int, shown: str) -> Message | None:
    """Stop a reply that another app process writes (a page here follows it through the
    store): save it as interrupted with `shown`, the text the page showed, and drop the
    chat's cache state. Its writer finds its row no longer streaming at its next save or
    heartbeat, and ends. (A Continue stopped so ends interrupted too: the row is not
    reopened while its writer may still save into it.) Returns the reply's final row
    (its own end when it had already ended; None when it is gone)."""
    current = store.get_message(session, message_id)
    if current is None or current.status != "streaming":
        return current
    try:
        final = store.save_reply(
            session,
            message_id,
            content=shown,
            reasoning=current.reasoning_content,
            status="interrupted",
            first_token_ms=current.first_token_ms,
        )
    except ReplyReplacedError:  # it ended meanwhile, with its own end
        return store.get_message(session, message_id)
    store.set_cache_state(session)  # the service may hold more of the turn than the row
    return final


class ReplyRunner:
    """Runs replies on worker threads, within per-process and per-user limits.

    One per process and store. `start()` hands it a `Reply`; `live(session_id)` finds
    a reply being written for a chat.
    """

    def __init__(
        self, store: Store, *, max_running: int = MAX_RUNNING, max_per_owner: int = MAX_PER_OWNER
    ) -> None:
        self.store, self.max_running, self.max_per_owner = store, max_running, max_per_owner
        self._live: dict[str, LiveReply] = {}
        # Stopped replies a newer one of their chat replaced, until their threads end.
        self._leaving: list[LiveReply] = []
        # The owners of replies streamed elsewhere (a temporary chat's, on its page's run).
        self._elsewhere: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # Replies left streaming by a process that is gone; a database that cannot be
        # written now (locked, read-only) is swept at a later tick instead.
        self._quietly(self._sweep)
        self._maintenance = threading.Thread(target=self._maintain, name="replies", daemon=True)
        self._maintenance.start()
        atexit.register(self.shutdown)

    def check_room(self, owner: str, session_id: str | None = None) -> None:
        """Raise `ReplyLimitError` when a new reply for `owner` would not be started, or
        `InvalidInputError` while another reply of chat `session_id` is being written
        (on another branch, say: each chat has one live reply, which Stop reaches); call
        it before storing the user's message, so a refusal writes nothing."""
        with self._lock:
            self._check_room(owner, session_id)

    @contextlib.contextmanager
    def counted(self, owner: str) -> Iterator[None]:
        """Count a reply of `owner` that is streamed outside the runner (a temporary
        chat's) against the limits while the block runs; refused as `check_room`
        refuses, before the block."""
        with self._lock:
            self._check_room(owner, None)
            self._elsewhere.append(owner)
        try:
            yield
        finally:
            with self._lock:
                self._elsewhere.remove(owner)

    def start(self, reply: Reply, owner: str) -> LiveReply:
        """Write `reply` on a worker thread. One not begun yet is refused as
        `check_room` refuses; a begun one (its row written, as a reply is made) already
        holds its chat, and the page checked the room before making it: the limits are
        a guard against load, which a race between two tabs may pass by one."""
        with self._lock:
            if reply.message is None:
                self._check_room(owner, reply.session.id)
            live = LiveReply(self.store, reply, owner)
            replaced = self._live.get(live.session_id)
            if replaced is not None and replaced.thread.is_alive():
                self._leaving.append(replaced)  # stopped, its thread still waits
            self._live[live.session_id] = live
        live.thread.start()
        return live

    def live(self, session_id: str) -> LiveReply | None:
        """The reply being written (or just finished) in this process for a chat."""
        with self._lock:
            return self._live.get(session_id)

    def shutdown(self, grace: float = SHUTDOWN_SECONDS) -> None:
        """Stop every reply, saving what each has published, before the process exits
        (a graceful stop such as SIGTERM runs this through `atexit`)."""
        self._closed.set()
        with self._lock:
            running = [live for live in self._live.values() if not live.progress.done]
            leaving = list(self._leaving)
        for live in running:
            try:
                live.stop(reason="reply_abandoned")  # said as the app stopping, not a Stop
            except ChatError as exc:
                log.warning("could not save reply in chat %s at shutdown: %s", live.session_id, exc)
        deadline = time.monotonic() + grace
        for live in running + leaving:
            live.thread.join(max(deadline - time.monotonic(), 0))

    def _check_room(self, owner: str, session_id: str | None) -> None:
        self._forget_finished()
        current = self._live.get(session_id) if session_id else None
        if current is not None and current.writing:
            raise InvalidInputError("reply_in_progress")
        running = [*self._live.values(), *self._leaving]
        # A user's replies are those still being written: one they stopped is over for
        # them, though its thread may wait a while yet for a first token to leave on.
        # The process counts every thread it still has, replaced ones included.
        own = [live for live in running if live.owner == owner and live.writing]
        if len(own) + self._elsewhere.count(owner) >= self.max_per_owner:
            raise ReplyLimitError("too_many_own_replies", limit=self.max_per_owner)
        if len(running) + len(self._elsewhere) >= self.max_running:
            raise ReplyLimitError("too_many_replies", limit=self.max_running)

    def _forget_finished(self) -> None:
        # A page watching a finished reply keeps its own reference; new pages read the
        # store.
        for session_id, live in list(self._live.items()):
            if live.progress.done and not live.thread.is_alive() and not live.kept_unsaved:
                del self._live[session_id]
        self._leaving = [live for live in self._leaving if live.thread.is_alive()]

    def _maintain(self) -> None:
        swept_at = time.monotonic()
        while not self._closed.wait(BEAT_SECONDS):
            with self._lock:
                self._forget_finished()
                running = list(self._live.values())
            for live in running:
                self._quietly(live.beat)
            if time.monotonic() - swept_at >= SWEEP_SECONDS:
                swept_at = time.monotonic()
                self._quietly(self._sweep)

    def _sweep(self) -> None:
        finished = self.store.interrupt_stale_replies(WRITER_SILENT_SECONDS)
        if finished:
            log.warning("finished %d replies whose writer had stopped", finished)

    @staticmethod
    def _quietly(action) -> None:
        try:
            action()
        except ChatError as exc:  # the database is away: try again at the next tick
            log.warning("reply maintenance failed: %s", exc)


def open_runner(store: Store) -> ReplyRunner:
    """The runner for a store (one per process, like the store)."""
    return ReplyRunner(store)
