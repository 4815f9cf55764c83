"""The Responses API: POST /responses, GET and DELETE /responses/{id}, and the response store."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from . import errors
from .call import Call
from .content import check_images, image_parts
from .faults import Fault
from .records import ResponseRecord
from .replies import ReplyLimits, count_message_tokens, last_user_text, message_text
from .response_objects import Turn, response_events, response_object, response_usage
from .web_search import check_tools, plan_search

DEFAULT_EXPIRY = 259200  # 3 days after created_at
MAX_EXPIRY = 604800  # 7 days
# What real Ark reports when the request sets no max_output_tokens (ark-api.md §6 example).
DEFAULT_MAX_OUTPUT_TOKENS = 32768


class ResponseStore:
    """Stored responses by id; one is gone once deleted, expired, or past its expire_at."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, ResponseRecord] = {}

    def snapshot(self) -> dict[str, ResponseRecord]:
        """Copies of the records by id, expired ones included."""
        with self._lock:
            return {key: dataclasses.replace(record) for key, record in self._records.items()}

    def save(self, record: ResponseRecord) -> None:
        with self._lock:
            self._records[record.id] = record

    def find(self, response_id: str) -> ResponseRecord | None:
        with self._lock:
            record = self._records.get(response_id)
        if record is None or record.expired or self._clock() >= record.expire_at:
            return None
        return record

    def delete(self, response_id: str) -> bool:
        """Forget a live response; False if it is unknown, expired or already deleted."""
        if self.find(response_id) is None:
            return False
        with self._lock:
            return self._records.pop(response_id, None) is not None

    def expire_all(self) -> None:
        with self._lock:
            for record in self._records.values():
                record.expired = True


def create_response(call: Call) -> None:
    """POST /responses on Ark: chains through `previous_response_id` and stores the turn."""
    serve_response(call, call.backend.responses)


def serve_response(call: Call, store: ResponseStore | None) -> None:
    """Answer one POST /responses; `store` None means nothing is kept or chained."""
    new_input = input_messages(call.require("input"))
    check_images(new_input, call.model)
    caching = call.get("caching") or {"type": "disabled"}
    caching_on = isinstance(caching, dict) and caching.get("type") == "enabled"
    if call.get("instructions") and caching_on:
        raise errors.caching_with_instructions()
    check_tools(call.body, caching_on)
    previous = _previous(call, store)
    history = previous.messages if previous else []
    turn = _plan_turn(call, history, new_input, previous, caching, stored=store is not None)
    if store is not None and turn.store and turn.reply.failure is None:
        # Saved before answering, so a client chaining right after the stream ends finds it.
        store.save(_record(turn, new_input, history, caching_on))
    if call.wants_stream:
        call.send_stream(response_events(turn, call.error_event(errors.internal_error())))
        return
    call.wait_for_generation(turn.reply.output_tokens)
    if turn.reply.failure is Fault.DROP:
        call.send_truncated_json(response_object(turn))
    else:
        call.send_json(200, response_object(turn))


def get_response(call: Call, response_id: str) -> None:
    record = call.backend.responses.find(response_id)
    if record is None:
        raise errors.response_not_found(response_id)
    call.send_json(200, record.response)


def delete_response(call: Call, response_id: str) -> None:
    if not call.backend.responses.delete(response_id):
        raise errors.response_not_found(response_id)
    call.send_no_content()


def input_messages(raw: object) -> list[dict]:
    """`input` as chat-style messages: a string is one user message; items keep their role,
    and a message with images keeps its content parts (see `content`)."""
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise errors.invalid_parameter("input", "input must be a string or a list of items")
    messages = []
    for item in raw:
        if isinstance(item, dict) and item.get("type", "message") == "message":
            content = item.get("content")
            if not image_parts(content):
                content = message_text(content)  # images keep their parts
            messages.append({"role": item.get("role", "user"), "content": content})
    return messages


def _plan_turn(call, history, new_input, previous, caching, stored: bool) -> Turn:
    instructions = call.get("instructions")
    system = [{"role": "system", "content": instructions}] if instructions else []
    seen = system + history + new_input
    max_output = call.positive_int("max_output_tokens") or DEFAULT_MAX_OUTPUT_TOKENS
    prompt = last_user_text(history + new_input)
    search = plan_search(call.body, message_text(_last_user_content(new_input)))
    reply = call.plan_reply(prompt, ReplyLimits(total=max_output))
    # The chain's history is a cache hit only if the previous turn wrote it to the cache.
    cached = count_message_tokens(history) if previous and previous.caching else 0
    created_at = int(call.settings.now())
    return Turn(
        request_id=call.request_id,
        created_at=created_at,
        model=str(call.require("model")),
        reply=reply,
        usage=response_usage(count_message_tokens(seen), cached, reply),
        previous_response_id=previous.id if previous else None,
        caching=caching,
        store=stored and call.get("store", True) is not False,
        expire_at=_expire_at(call, created_at),
        thinking=call.get("thinking"),
        instructions=instructions,
        max_output_tokens=max_output,
        search=search,
        search_seconds=call.settings.search_seconds,
    )


def _last_user_content(messages: list[dict]) -> object:
    users = [m for m in messages if m.get("role") == "user"]
    return users[-1].get("content") if users else ""


def _previous(call: Call, store: ResponseStore | None) -> ResponseRecord | None:
    previous_id = call.get("previous_response_id")
    if not previous_id or store is None:
        return None
    previous = store.find(str(previous_id))
    if previous is None:
        raise errors.previous_response_not_found(str(previous_id))
    return previous


def _expire_at(call: Call, created_at: int) -> int:
    expire_at = call.get("expire_at")
    if expire_at is None:
        return created_at + DEFAULT_EXPIRY
    valid = isinstance(expire_at, int) and not isinstance(expire_at, bool)
    if not valid or not created_at < expire_at <= created_at + MAX_EXPIRY:
        raise errors.invalid_parameter(
            "expire_at", "expire_at must be within 7 days after the response is created"
        )
    return expire_at


def _record(turn: Turn, new_input: list[dict], history: list[dict], caching_on: bool):
    answer = {"role": "assistant", "content": turn.reply.text}
    return ResponseRecord(
        id=turn.id,
        model=turn.model,
        input_messages=new_input,
        output_text=turn.reply.text,
        reasoning_text=turn.reply.reasoning_text,
        messages=[*history, *new_input, answer],
        previous_response_id=turn.previous_response_id,
        caching=caching_on,
        expire_at=turn.expire_at,
        response=response_object(turn),
    )
