"""Generated chat titles.

A chat is titled from its first message at once (`Store.start_turn`); once its first
answer is complete, one small request to the chat's model names it better. Any failure
(no key, a refused or slow request, an empty answer) keeps the first-message title, and
a title the user chose is never replaced. Editing the first message starts again.

The request turns thinking off where the model takes that (a title is a few words);
a model that only thinks is asked in the mode it takes, and its reasoning is left out.
"""

from __future__ import annotations

import logging
import re

from . import ark
from .capabilities import sent_thinking
from .errors import ChatError
from .store import Message, Session, Store

log = logging.getLogger(__name__)
_WRAPPING = re.compile(r"^[\s\"'“”‘’「」『』《》*#]+|[\s\"'“”‘’「」『』《》*#.。!！?？:：]+$")


def wants_title(session: Session, question: Message, enabled: bool) -> bool:
    """Whether answering `question` should title the chat: it is a first message (an
    edit of the first one included), titles are on, and the user has not named it."""
    return enabled and question.parent_id is None and not session.title_by_user


def generate_title(
    store: Store,
    session: Session,
    client,
    model: str,
    question: str,
    answer: str,
    provider: str = "ark",
    alias: str | None = None,
) -> Session | None:
    """Ask the model (serving `alias`, when it is an endpoint) for a title and give it to
    the chat; None (the first-message title stays) when that fails or the user has named
    the chat meanwhile."""
    try:
        raw = _ask(client, model, alias, question, answer, provider)
    except ChatError as exc:
        log.info("No generated title (%s); the chat keeps its first-message title", exc.code)
        return None
    title = clean_title(raw)
    return store.set_generated_title(session, title) if title else None


def clean_title(raw: str) -> str:
    """The title's first line, without the quotes, Markdown marks and final punctuation
    models like to add."""
    line = next((line for line in raw.splitlines() if line.strip()), "")
    return _WRAPPING.sub("", line.strip())


def _ask(client, model: str, alias: str | None, question: str, answer: str, provider: str) -> str:
    """The model's raw title: asked with thinking off, or, for a model that cannot turn
    it off (it may refuse such a request), in the mode it takes."""
    thinking = sent_thinking(model, alias, "disabled")
    return ark.ask_title(client, model, question, answer, provider, thinking)
