"""One assistant reply end to end: build the request, stream it, and save it whatever
happens (finished, failed, or abandoned by a rerun or a closed tab).

The UI iterates a `Reply`, which feeds each event to a `Response` (what streamed) and
lets a `ReplyRecorder` keep the store in step: the row is written as the reply starts,
refreshed while it streams, and finished in a `finally`, so a cut-off reply keeps the
text that arrived.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from . import ark, titles
from .ark import ContentDelta, ReasoningDelta, SearchProgress, TurnRequest, Usage
from .ark.history import message_tokens
from .capabilities import check_images, check_mode, reads_images, sent_effort, sent_thinking
from .config import Settings
from .conversation import context_window, model_view
from .errors import (
    ChatError,
    InvalidInputError,
    MessageNotFoundError,
    ReplyReplacedError,
    SessionNotFoundError,
    SessionTakenError,
)
from .images import Image
from .pricing import (
    HeldTokens,
    PriceTable,
    Quote,
    SessionCost,
    quote,
    session_cost,
    storage_estimate,
)
from .recording import PROGRESS_SAVE_SECONDS, ReplyRecorder
from .response import Response
from .store import Message, Session, Store
from .text import check_message, make_title
from .turn_images import history_images, named_images, turn_images

log = logging.getLogger(__name__)

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
        # None: the model's own default effort. The defaults a user prefers for these
        # go with their default model and mode, so only a chat on those takes them.
        "reasoning_effort": session.reasoning_effort
        or (settings.reasoning_effort if session.model is None else None),
        "web_search": bool(
            (settings.web_search and session.cache_mode is None)
            if session.web_search is None
            else session.web_search
        ),
        # The catalogue model an endpoint serves (None: not said).
        "model_alias": session.model_alias
        or (settings.model_alias if session.model is None else None),
    }


def build_request(
    settings: Settings,
    session: Session,
    messages: list[Message],
    images: Mapping[int, list[Image]] | None = None,
) -> TurnRequest:
    """The request for a reply to the last message of `messages` (a user message), which
    are the chat's branch up to it: the model sees exactly that path, and a cached
    context or response chain only when it holds the same path."""
    *earlier, last = messages
    chosen = effective(session, settings)
    images = images or {}
    history, aligned = model_view(earlier), history_images(earlier, images)
    if not reads_images(chosen["model"], chosen["model_alias"]):
        # A model switched to since: the earlier images are named, not sent (it would
        # refuse every turn).
        history, aligned = named_images(history, aligned), []
    before = earlier[-1] if earlier else None
    context_fits = before is not None and session.ark_context_leaf_id == before.id
    return TurnRequest(
        model=chosen["model"],
        new_message=last.content,
        history=history,
        system_prompt=chosen["system_prompt"] or "",
        temperature=chosen["temperature"],
        max_tokens=settings.max_tokens,
        cache_mode=chosen["cache_mode"],
        context_id=session.ark_context_id if context_fits else None,
        context_expires_at=session.ark_context_expires_at if context_fits else None,
        previous_response_id=_chain_from(before),
        context_ttl=settings.context_ttl,
        history_tokens=settings.history_tokens,
        provider=settings.provider_kind,
        context_window=context_window(settings, session, chosen["model"]),
        images=images.get(last.id, []),
        history_images=aligned,
        **_options(chosen),
    )


def _options(chosen: dict) -> dict:
    """A thinking mode the model takes, the reasoning effort where the model and mode
    take it, and web search in the Responses mode."""
    model, alias, mode = chosen["model"], chosen["model_alias"], chosen["cache_mode"]
    return {
        "thinking": sent_thinking(model, alias, chosen["thinking"]),
        "reasoning_effort": sent_effort(model, alias, mode, chosen["reasoning_effort"]),
        "web_search": chosen["web_search"] and mode == "responses",
    }


def check_turn(settings: Settings, session: Session, image_count: int) -> None:
    """Refuse, before anything is written, a turn the chat's model or mode cannot take:
    the Context API without an endpoint, images for a model that reads text only."""
    chosen = effective(session, settings)
    check_mode(chosen["model"], chosen["model_alias"], chosen["cache_mode"], settings.provider_kind)
    check_images(chosen["model"], chosen["model_alias"], image_count)


def _chain_from(before: Message | None) -> str | None:
    """The Responses API id to continue from: that of the reply just before the new
    message, which holds exactly the path up to it. None (the path is sent again) when
    that message is not a complete reply of this kind, say a reply that was stopped."""
    if before is None or before.role != "assistant":
        return None
    return before.response_id


class Reply:
    """One reply: iterate it for its `ContentDelta`s and `ReasoningDelta`s, and use it
    as a context manager so an abandoned reply is saved at once.

    It joins two halves: `response` accumulates what streams, `recorder` keeps the
    store in step. A `ChatError` from the service is re-raised after the partial reply
    is saved with status `error`; abandoning the iteration saves it as `interrupted`.
    """

    def __init__(
        self,
        store: Store,
        session: Session,
        client,
        request: TurnRequest,
        *,
        reply_to: int | None = None,
        model_alias: str | None = None,
    ) -> None:
        self.client, self.request = client, request
        self.response = Response()
        self.recorder = ReplyRecorder(
            store,
            session,
            model=request.model,
            cache_mode=request.cache_mode,
            save_every=PROGRESS_SAVE_SECONDS,
            reply_to=reply_to,
            model_alias=model_alias,
        )
        self.status = "streaming"
        self.error: ChatError | None = None
        # Called once the reply is complete and saved, before the iteration ends (a
        # generated title, say): a page that shows the reply's end shows their work.
        self.after_complete: list[Callable[[Reply], None]] = []
        self._events: Iterator | None = None

    def __iter__(self) -> Iterator[ContentDelta | ReasoningDelta | SearchProgress]:
        if self._events is None:
            self._events = self._run()
        return self._events

    def close(self) -> None:
        """Save now if the iteration was abandoned (Streamlit stops a run between chunks,
        outside the generator, which would otherwise be closed only when collected), or
        never started: a begun reply is saved as interrupted."""
        if self._events is not None:
            self._events.close()
        elif self.recorder.message is not None and not self.recorder.saved:
            self.recorder.finish(self.response, "interrupted", None)

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def session(self) -> Session:
        """The chat this reply is written into."""
        return self.recorder.session

    @property
    def message(self) -> Message | None:
        """The reply's row as last saved."""
        return self.recorder.message

    @property
    def saved(self) -> bool:
        """True once the reply's final state is in the store."""
        return self.recorder.saved

    def begin(self) -> Message:
        """Write the reply's `streaming` row, once (iterating begins it otherwise). A
        chat takes one reply at a time: another being written, by any app process,
        refuses it here (`InvalidInputError`), before anything is sent."""
        if self.recorder.message is None:
            self.recorder.begin()
        return self.recorder.message

    def _run(self) -> Iterator[ContentDelta | ReasoningDelta | SearchProgress]:
        self.begin()
        self.status = "interrupted"  # what an abandoned iteration leaves
        try:
            # Closed as soon as this loop is left, so a stopped reply ends its request.
            with contextlib.closing(ark.stream_turn(self.client, self.request)) as events:
                for event in events:
                    if self.response.add(event):
                        self.recorder.first_text()
                        yield event
                    elif isinstance(event, SearchProgress):
                        yield event  # a watcher says the model is searching
                    self.recorder.progress(self.response)
            self.error = self.response.failure()
            self.status = "complete" if self.error is None else "error"
        except ChatError as exc:
            self.status, self.error = "error", exc
            raise
        except Exception as exc:  # a bug: keep the text, then let it surface
            self.status = "error"
            self.error = ChatError("unexpected_failure", kind=type(exc).__name__)
            raise
        finally:
            self._record()
        if self.error is not None:
            raise self.error
        self.run_after_complete()

    def run_after_complete(self) -> None:
        """The steps that follow a complete answer once its end is saved (its chat's
        title)."""
        for step in self.after_complete:
            step(self)

    def _record(self) -> None:
        try:
            self.recorder.finish(self.response, self.status, self.error)
        except ReplyReplacedError as exc:
            self.status, self.error = "error", exc
            raise


def send(
    store: Store,
    settings: Settings,
    session: Session,
    client,
    text: str,
    *,
    only_if_unused: bool = False,
    images: Sequence[Image] = (),
    after: int | None = None,
) -> Reply:
    """Store the user's message with its `images` (marking the session used) and return
    its `Reply`. A mode the model cannot use (the Context API without an endpoint) and
    images for a model known to read text only are refused first. The message follows
    message `after` (the last one the page showed), by default the branch's last one.

    `only_if_unused` is for a first message from a page that showed the chat empty: if
    another tab has started the chat meanwhile, `SessionTakenError` is raised and the
    caller sends it to the owner's unused chat instead (see `send_first`).
    """
    _refuse_while_streaming(store, session)
    check_turn(settings, session, len(images))
    question = store.start_turn(
        session, text, only_if_unused=only_if_unused, images=images, after=after
    )
    return _answer_or_withdraw(store, settings, session, client, question)


def _answer_or_withdraw(store, settings, session, client, question: Message) -> Reply:
    """The reply to `question`, just stored, begun at once, whichever branch is current
    by then. When its reply cannot begin (another reply of the chat began in between,
    on another app process; a database read failed), the question is withdrawn and the
    error raised: the message is refused as a whole, not left unanswered (a first
    message's version gives the chat its title back). If it cannot be withdrawn either,
    the error says it stays (`kept_message`): Retry on it answers it, and sending its
    text again would store it twice."""
    try:
        fresh = store.get_session(session.owner, session.id)
        earlier = recent_messages(store, fresh, settings.history_tokens, before=question.id)
        return _reply(store, settings, fresh, client, [*earlier, question])
    except ChatError as exc:
        try:
            _withdraw(store, session, question)
        except (SessionNotFoundError, MessageNotFoundError):
            pass  # gone already, with its chat or by a delete in another tab
        except ChatError:
            exc.kept_message = question.id
        raise


def _withdraw(store: Store, before: Session, question: Message) -> None:
    """Delete `question`; the branch the chat showed and a title it gave the chat
    (`before` being the chat as it was) come back, if the database lets them (the
    message is gone either way)."""
    after = store.delete_message(before, question.id)
    try:
        if before.current_leaf_id is not None and after.current_leaf_id != before.current_leaf_id:
            # A delete shows the newest branch left; an edit of an older version came
            # from another one.
            after = store.switch_branch(after, before.current_leaf_id)
        retitled = before.title and after.title != before.title
        if retitled and after.title == make_title(question.content):
            store.set_generated_title(after, before.title)
    except ChatError as exc:
        log.warning("a withdrawn message's chat is left as the delete left it: %s", exc.code)


def _refuse_while_streaming(store: Store, session: Session) -> None:
    """A new turn waits for the reply the branch ends with: refused before anything is
    prepared (the store refuses it too, for a reply on any branch, in any process)."""
    last = store.get_messages(session, limit=1)
    if last and last[0].status == "streaming":
        raise InvalidInputError("reply_in_progress")


def send_first(
    store: Store,
    settings: Settings,
    session: Session,
    client,
    text: str,
    *,
    images: Sequence[Image] = (),
) -> Reply:
    """Send the first message of a chat the page showed empty. If another tab started
    that chat meanwhile, the message goes to the owner's unused chat (or a new one)
    instead of joining a conversation it never saw; the reply's session says where."""
    try:
        return send(store, settings, session, client, text, only_if_unused=True, images=images)
    except SessionTakenError:
        fresh, _ = store.new_session(session.owner)
        return send(store, settings, fresh, client, text, only_if_unused=True, images=images)


def reply_to_last(
    store: Store, settings: Settings, session: Session, client, question_id: int | None = None
) -> Reply:
    """A `Reply` to the last message of the chat's branch, which must be the user's.
    With `question_id` (Retry under that question) it must be that one: when the chat
    went on in another tab since, the answer is refused (`retry_not_last`) rather than
    given to another question."""
    session = store.get_session(session.owner, session.id)
    messages = recent_messages(store, session, settings.history_tokens)
    if question_id is not None:
        _refuse_unless_last(store, session, messages[-1:], question_id)
    return _reply(store, settings, session, client, messages)


def _reply(store, settings, session, client, messages: list[Message]) -> Reply:
    """A `Reply` to the last of `messages` (the branch up to it), titling the chat after
    its first answer when that is wanted."""
    if not messages or messages[-1].role != "user":
        raise InvalidInputError("nothing_to_answer")
    question = messages[-1]
    images = turn_images(store, session, messages)
    check_turn(settings, session, len(images.get(question.id, [])))
    request = build_request(settings, session, messages, images)
    # The catalogue model the endpoint serves now: the reply is priced by it, and a
    # title by its thinking modes.
    alias = effective(session, settings)["model_alias"]
    reply = begun(Reply(store, session, client, request, reply_to=question.id, model_alias=alias))
    if titles.wants_title(session, question, settings.generated_titles):
        reply.after_complete.append(
            lambda done: titles.generate_title(
                store,
                done.session,
                client,
                request.model,
                question.content,
                done.text,
                request.provider,
                alias,
            )
        )
    return reply


def begun(reply: Reply) -> Reply:
    """`reply` with its row written now, so a chat that is taken (another reply being
    written, by any app process) refuses it before anything is sent. Its row failing to
    be written for another reason (a busy database) is left to the reply, which tries
    again as it starts and says why in its place."""
    try:
        reply.begin()
    except InvalidInputError:
        raise
    except ChatError as exc:
        log.warning("a reply's row was not written yet: %s", exc.code)
    return reply


def recent_messages(
    store: Store, session: Session, budget: int, *, before: int | None = None
) -> list[Message]:
    """The latest messages of the chat's branch (those before message `before`, when
    given), oldest first, reaching back just past `budget` tokens.

    Older ones would be trimmed from the request anyway, so a long chat costs no more
    to answer than a short one.
    """
    messages: list[Message] = []
    tokens = 0
    while tokens < budget:
        page = store.get_messages(session, limit=HISTORY_PAGE, before=before)
        messages[:0] = page
        tokens += sum(message_tokens(m.content) for m in page)
        if len(page) < HISTORY_PAGE:
            break
        before = page[0].id
    return messages


def regenerate(
    store: Store,
    settings: Settings,
    session: Session,
    client,
    message_id: int | None = None,
    shown_end: int | None = None,
) -> Reply:
    """Answer again: a new version of the answer `message_id` (by default the branch's
    last reply, complete, failed or interrupted), beside the old one, which is kept.
    A branch that ends with an unanswered question gets its answer.

    `shown_end` (Retry under a failed answer) is the last message of the chat as the
    page showed it: when the branch no longer ends there (another tab added a turn or
    answered again), the answer is refused (`retry_not_last`) rather than start a new
    version of a chat the page never showed."""
    _refuse_while_streaming(store, session)
    session = store.get_session(session.owner, session.id)
    if message_id is None:
        last = store.get_messages(session, limit=1)
        if not last or last[-1].role != "assistant":
            return reply_to_last(store, settings, session, client)
        message_id = last[-1].id
    answer = store.get_message(session, message_id)
    if answer is None:
        raise MessageNotFoundError("message_not_found")
    if answer.role != "assistant":
        raise InvalidInputError("nothing_to_answer")
    if shown_end is not None:
        _refuse_unless_last(store, session, store.get_messages(session, limit=1), shown_end)
    messages = recent_messages(store, session, settings.history_tokens, before=answer.id)
    return _reply(store, settings, session, client, messages)


def _refuse_unless_last(
    store: Store, session: Session, last: list[Message], message_id: int
) -> None:
    """Retry is for the chat as the page showed it: refused when message `message_id`
    is gone, or is not `last`, the branch's last message now (the chat went on in
    another tab)."""
    if last and last[-1].id == message_id:
        return
    if store.get_message(session, message_id) is None:
        raise MessageNotFoundError("message_not_found")
    raise InvalidInputError("retry_not_last")


def edit(
    store: Store, settings: Settings, session: Session, client, message_id: int, text: str
) -> Reply:
    """A new version of the user's message `message_id` with `text`: a new branch from
    that point (the old one is kept), answered at once."""
    text = check_message(text, store.max_message_chars)
    _refuse_while_streaming(store, session)
    before = store.get_session(session.owner, session.id)  # its title, should it go back
    kept = store.attachments(before, [message_id]).get(message_id, [])  # the version's too
    check_turn(settings, before, len(kept))
    version = store.edit_message(before, message_id, text)
    return _answer_or_withdraw(store, settings, before, client, version)


def edit_last(store: Store, settings: Settings, session: Session, client, text: str) -> Reply:
    """`edit` the last user message of the chat's branch."""
    last_user = next(
        (m for m in reversed(store.get_messages(session, limit=2)) if m.role == "user"), None
    )
    if last_user is None:
        raise InvalidInputError("nothing_to_edit")
    return edit(store, settings, session, client, last_user.id, text)


def message_cost(message: Message, prices: PriceTable | None = None):
    """A stored reply's cost in CNY, or None without usage or a known price."""
    found = message_quote(message, prices)
    return None if found is None else found.amount


def message_quote(message: Message, prices: PriceTable | None = None) -> Quote | None:
    """A stored reply's cost and whether its price is unverified; None without usage or
    a known price."""
    if message.prompt_tokens is None or message.completion_tokens is None:
        return None
    return quote(message_usage(message), message.model, prices, alias=message.model_alias)


def chat_cost(
    store: Store,
    session: Session,
    prices: PriceTable | None = None,
    settings: Settings | None = None,
) -> SessionCost:
    """The summed cost of a session's replies; `complete` is False when a price is unknown.
    A reply is priced as the model its endpoint served when it was asked; one older
    than that record, as the model the chat (with `settings`, also an endpoint the chat
    takes from them) says its endpoint serves now."""
    chosen = (
        effective(session, settings)
        if settings
        else {"model": session.model, "model_alias": session.model_alias}
    )
    turns = (
        (message_usage(m), m.model, m.model_alias or _chats_alias(m, chosen))
        for m in store.reply_usage(session)
    )
    return session_cost(turns, prices)


def _chats_alias(message: Message, chosen: Mapping) -> str | None:
    """What the chat says its endpoint serves, for a reply older than replies keeping
    their own: only one of the chat's model now (another endpoint's may be anything)."""
    return chosen["model_alias"] if message.model == chosen["model"] else None


def chat_storage_cost(
    store: Store, session: Session, settings: Settings, prices: PriceTable | None = None
):
    """An estimate of what the chat's cache storage costs (context and Responses modes),
    or None without a cache or a storage price."""
    held = [
        HeldTokens(
            tokens=(m.prompt_tokens or 0) + (m.completion_tokens or 0) - (m.reasoning_tokens or 0),
            since=_epoch(m.created_at),
            model=m.model,
            alias=m.model_alias,
        )
        for m in store.reply_usage(session)
    ]
    if not held:
        return None
    chosen = effective(session, settings)
    return storage_estimate(
        held,
        chosen["cache_mode"],
        context_ttl=settings.context_ttl,
        prices=prices,
        alias=chosen["model_alias"],
    )


def _epoch(timestamp: str) -> float:
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except (TypeError, ValueError):
        return 0.0


def message_usage(message: Message) -> Usage:
    """A stored reply's usage, as the service reported it (its counts, 0 when missing)."""
    return Usage(
        prompt_tokens=message.prompt_tokens,
        completion_tokens=message.completion_tokens or 0,
        cached_tokens=message.cached_tokens or 0,
        reasoning_tokens=message.reasoning_tokens or 0,
        model=message.model,
        tier_prompt_tokens=message.tier_prompt_tokens,
        tier_completion_tokens=message.tier_completion_tokens,
    )
