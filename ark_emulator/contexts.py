"""The Context API: POST /context/create and the context store behind /context/chat/completions."""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
import time
from collections.abc import Callable

from . import errors
from .call import Call
from .chat import request_messages
from .records import ContextRecord
from .replies import count_message_tokens

DEFAULT_TTL = 86400
TTL_RANGE = (3600, 604800)
DEFAULT_HISTORY_TOKENS = 4096
_ID_ALPHABET = string.ascii_lowercase + string.digits


class ContextStore:
    """Contexts by id; expiry slides by `ttl` from each use, as `clock` tells the time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, ContextRecord] = {}

    def snapshot(self) -> dict[str, ContextRecord]:
        """Copies of the records by id: reading them never races a request."""
        with self._lock:
            return {key: dataclasses.replace(record) for key, record in self._records.items()}

    def create(self, model: str, mode: str, ttl: int, strategy: dict | None, messages: list):
        now = self._clock()
        with self._lock:
            context_id = self._new_id(now)
            record = ContextRecord(
                id=context_id,
                model=model,
                mode=mode,
                ttl=ttl,
                truncation_strategy=strategy,
                messages=list(messages),
                expires_at=now + ttl,
                prefix_length=len(messages),
            )
            self._records[context_id] = record
        return record

    def check_out(self, context_id: str, exclusive: bool = False) -> ContextRecord:
        """The live context, with its expiry reset; 404 when unknown or expired."""
        now = self._clock()
        with self._lock:
            record = self._records.get(context_id)
            if record is None or record.expired or now >= record.expires_at:
                if record is not None:
                    record.expired = True
                raise errors.context_not_found(context_id)
            if exclusive and record.busy and record.mode == "session":
                raise errors.context_in_progress()
            record.expires_at = now + record.ttl
            record.busy = True
            return record

    def release(self, record: ContextRecord) -> None:
        with self._lock:
            record.busy = False

    def remember_turn(self, record: ContextRecord, new_messages: list[dict], answer: str) -> None:
        """Session contexts append the turn (the answer without its reasoning)."""
        if record.mode != "session":
            return
        with self._lock:
            turn = [*new_messages, {"role": "assistant", "content": answer}]
            record.messages = _truncate(record, record.messages + turn)

    def expire_all(self) -> None:
        with self._lock:
            for record in self._records.values():
                record.expired = True

    def _new_id(self, now: float) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now))
        while True:
            suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
            context_id = f"ctx-{stamp}-{suffix}"
            if context_id not in self._records:
                return context_id


def create_context(call: Call) -> None:
    model = str(call.require("model"))
    messages = request_messages(call)
    if not model.startswith("ep-"):
        raise errors.model_not_found(model)  # the Context API needs an endpoint id
    mode = call.get("mode", "session")
    if mode not in ("session", "common_prefix"):
        raise errors.invalid_parameter("mode", "mode must be session or common_prefix")
    ttl = _ttl(call)
    strategy = _truncation_strategy(call, mode)
    record = call.backend.contexts.create(model, mode, ttl, strategy, messages)
    tokens = count_message_tokens(messages)
    call.send_json(
        200,
        {
            "id": record.id,
            "model": model,
            "mode": mode,
            "ttl": ttl,
            "truncation_strategy": strategy,
            # As recorded (ark-api.md §5.1): no completion_tokens_details here.
            "usage": {
                "prompt_tokens": tokens,
                "completion_tokens": 0,
                "total_tokens": tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        },
    )


def _ttl(call: Call) -> int:
    ttl = call.get("ttl", DEFAULT_TTL)
    low, high = TTL_RANGE
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not low <= ttl <= high:
        raise errors.invalid_parameter("ttl", f"ttl must be an integer in [{low}, {high}]")
    return ttl


def _truncation_strategy(call: Call, mode: str) -> dict | None:
    strategy = call.get("truncation_strategy")
    if strategy is None:
        # Real Ark picks one per model for sessions; common_prefix has none.
        return {"type": "rolling_tokens", "rolling_tokens": True} if mode == "session" else None
    if mode == "common_prefix":
        raise errors.invalid_parameter(
            "truncation_strategy", "truncation_strategy is only supported in session mode"
        )
    if not isinstance(strategy, dict) or strategy.get("type") not in (
        "last_history_tokens",
        "rolling_tokens",
    ):
        raise errors.invalid_parameter("truncation_strategy", "unknown truncation strategy type")
    return strategy


def _truncate(record: ContextRecord, messages: list[dict]) -> list[dict]:
    """Drop the oldest turns after the creation messages while history exceeds the limit."""
    limit = _history_limit(record.truncation_strategy)
    keep = record.prefix_length
    history = messages[keep:]
    while limit is not None and history and count_message_tokens(history) > limit:
        history = history[1:]
    return messages[:keep] + history


def _history_limit(strategy: dict | None) -> int | None:
    if not strategy:
        return None
    if strategy.get("type") == "last_history_tokens":
        return strategy.get("last_history_tokens") or DEFAULT_HISTORY_TOKENS
    return strategy.get("rolling_window_tokens") or strategy.get("max_window_tokens")
