"""Stored contexts and responses. Tests see copies (`ArkEmulator.contexts`, `.responses`)."""

from __future__ import annotations

from dataclasses import dataclass, field


class _Record:
    """Attribute access plus `record["field"]`, so assertions may use either style."""

    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


@dataclass
class ContextRecord(_Record):
    """A context created by POST /context/create."""

    id: str
    model: str
    mode: str  # "session" | "common_prefix"
    ttl: int
    truncation_strategy: dict | None
    messages: list[dict]  # replaced, never mutated, so readers always see a whole list
    expires_at: float  # sliding: clock() + ttl, reset on every use
    prefix_length: int  # messages given at creation; truncation never drops them
    expired: bool = False
    busy: bool = False


@dataclass
class ResponseRecord(_Record):
    """A stored response of POST /responses (store != false)."""

    id: str
    model: str
    input_messages: list[dict]  # this turn's input, without instructions
    output_text: str
    reasoning_text: str
    messages: list[dict]  # the whole conversation: the chain, this input and the output
    previous_response_id: str | None
    caching: bool
    expire_at: int
    response: dict = field(repr=False)  # the object GET /responses/{id} returns
    expired: bool = False
