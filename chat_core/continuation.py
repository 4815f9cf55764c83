"""Continue: the rest of an answer the token limit cut off, appended to that answer.

A reply that ended with `finish_reason` "length" is stored complete with that reason;
the chat says so and offers Continue. Continuing sends the path up to the question,
then the answer so far as the start of the assistant's message, which the model
carries on (Ark's "prefill response"; llama.cpp, Ollama and vLLM read a final
assistant message the same way). This goes through Chat Completions in every mode,
since neither the Context API nor Ark's Responses API continues a message; a caching
mode then drops its cache state, which holds the cut answer, and the next turn replays
the stored history.

The row streams again while the rest arrives: its text is the earlier text followed by
the new, saved as a reply's always is, so Stop, a closed tab or an error keep what
was shown. Its usage adds both calls' tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .ark import Event, Usage
from .chat import Reply, begun, build_request, effective, message_usage, recent_messages
from .config import Settings
from .conversation import is_cut
from .errors import InvalidInputError
from .pricing import tier_lengths
from .response import Response
from .store import Message, Session, Store
from .turn_images import turn_images


def continue_reply(
    store: Store, settings: Settings, session: Session, client, message_id: int | None = None
) -> Reply:
    """A `Reply` that carries on the cut answer `message_id` (by default the chat's
    last message) and appends to it. Raises `InvalidInputError` when that answer was
    not cut by the token limit (or is being written), or is no longer the last of the
    chat's branch (the chat went on in another tab: its text would no longer follow)."""
    session = store.get_session(session.owner, session.id)
    last = store.get_messages(session, limit=1)
    answer = last[-1] if last else None
    if message_id is not None and (answer is None or answer.id != message_id):
        found = store.get_message(session, message_id)
        if found is not None and is_cut(found):
            raise InvalidInputError("continue_not_last")
        raise InvalidInputError("nothing_to_continue")
    if answer is None or not is_cut(answer):
        raise InvalidInputError("nothing_to_continue")
    messages = recent_messages(store, session, settings.history_tokens, before=answer.id)
    if not messages or messages[-1].role != "user":
        raise InvalidInputError("nothing_to_continue")
    # The model sees the path's images again, as the answer it continues did.
    images = turn_images(store, session, messages)
    request = replace(
        build_request(settings, session, messages, images), continue_from=answer.content
    )
    # An answer older than replies keeping their endpoint's model takes today's.
    alias = effective(session, settings)["model_alias"]
    reply = Reply(store, session, client, request, model_alias=alias)
    reply.response = CarriedResponse.of(answer)
    reply.recorder.resumed = answer
    return begun(reply)  # the answer streams again (refused while another is written)


@dataclass
class CarriedResponse(Response):
    """A `Response` that starts with an answer's stored text, reasoning and usage."""

    earlier: Usage | None = None

    @classmethod
    def of(cls, answer: Message) -> CarriedResponse:
        reasoning = [answer.reasoning_content] if answer.reasoning_content else []
        return cls(content=[answer.content], reasoning=reasoning, earlier=_usage_of(answer))

    def add(self, event: Event) -> bool:
        if isinstance(event, Usage) and self.earlier is not None:
            event = _sum(self.earlier, event)
        return super().add(event)


def _usage_of(message: Message) -> Usage | None:
    return None if message.prompt_tokens is None else message_usage(message)


def _sum(earlier: Usage, later: Usage) -> Usage:
    """Both calls' counts summed; the lengths that set the tier are the largest prompt
    and the largest reply of the calls."""
    prompt, completion = tier_lengths(earlier)
    return Usage(
        prompt_tokens=earlier.prompt_tokens + later.prompt_tokens,
        completion_tokens=earlier.completion_tokens + later.completion_tokens,
        cached_tokens=earlier.cached_tokens + later.cached_tokens,
        reasoning_tokens=earlier.reasoning_tokens + later.reasoning_tokens,
        model=later.model or earlier.model,
        tier_prompt_tokens=max(prompt, later.prompt_tokens),
        tier_completion_tokens=max(completion, later.completion_tokens),
    )
