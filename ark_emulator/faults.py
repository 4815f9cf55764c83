"""Fault injection: which of the next model requests fail, and how."""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from . import errors


class Fault(StrEnum):
    """Kinds for `ArkEmulator.fail_next` and `random_faults`; plain strings work too.

    The first eight refuse the request with an HTTP error (Ark's codes, ark-api.md §7.3);
    the last three shape a reply, after `after_tokens` content tokens.
    """

    AUTH = "401"
    NOT_FOUND = "404"
    MODEL_NOT_OPEN = "model_not_open"
    RATE_LIMIT = "429"
    QUOTA = "quota"
    SERVER_ERROR = "500"
    SENSITIVE = "sensitive"
    INVALID_STATE = "invalid_state"
    # The three below shape a reply instead of refusing the request.
    CONTENT_FILTER = "content_filter"
    STREAM_ERROR = "stream_error"
    DROP = "drop"


# Faults that only make sense on a route that generates a reply.
REPLY_FAULTS = frozenset({Fault.CONTENT_FILTER, Fault.STREAM_ERROR, Fault.DROP})
DEFAULT_RANDOM_KINDS = ("429", "500", "stream_error", "drop", "content_filter")
RANDOM_AFTER_TOKENS = (0, 8)  # a random fault strikes after this many tokens, inclusive

FAULT_HELP = {
    Fault.AUTH: "401 AuthenticationError",
    Fault.NOT_FOUND: "404 InvalidEndpointOrModel.NotFound",
    Fault.MODEL_NOT_OPEN: "404 ModelNotOpen",
    Fault.RATE_LIMIT: "429 RateLimitExceeded.EndpointRPMExceeded (the SDK retries it)",
    Fault.QUOTA: "429 QuotaExceeded",
    Fault.SERVER_ERROR: "500 InternalServiceError (the SDK retries it)",
    Fault.SENSITIVE: "400 SensitiveContentDetected",
    Fault.INVALID_STATE: "403 OperationDenied.InvalidState",
    Fault.CONTENT_FILTER: 'the reply ends early with finish_reason "content_filter"',
    Fault.STREAM_ERROR: "an error event mid-stream (a 500 when not streaming)",
    Fault.DROP: "the connection drops mid-reply",
}

_STATUS_ERRORS: dict[Fault, Callable[[str], errors.ApiError]] = {
    Fault.AUTH: lambda model: errors.authentication_error(),
    Fault.NOT_FOUND: errors.model_not_found,
    Fault.MODEL_NOT_OPEN: errors.model_not_open,
    Fault.RATE_LIMIT: lambda model: errors.rate_limited(),
    Fault.QUOTA: lambda model: errors.quota_exceeded(),
    Fault.SERVER_ERROR: lambda model: errors.internal_error(),
    Fault.SENSITIVE: lambda model: errors.sensitive_content(),
    Fault.INVALID_STATE: lambda model: errors.context_in_progress(),
    Fault.STREAM_ERROR: lambda model: errors.internal_error(),
}


@dataclass(frozen=True)
class Injection:
    """One fault to serve: its kind and how many content tokens to stream before it strikes."""

    kind: Fault
    after_tokens: int = 0

    def http_error(self, model: str, stream: bool) -> errors.ApiError | None:
        """The HTTP error to answer with instead of a reply, or None if the fault shapes
        the reply. A non-stream request cannot fail mid-stream: "stream_error" is a 500."""
        if self.kind in REPLY_FAULTS and (stream or self.kind is not Fault.STREAM_ERROR):
            return None
        return _STATUS_ERRORS[self.kind](model or "unknown")


class FaultPlan:
    """Queued faults (`fail_next`) first, then random ones; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Injection] = deque()
        self._rate = 0.0
        self._kinds: tuple[Fault, ...] = ()
        self._after_tokens: int | None = None
        self._rng = random.Random(0)
        self._injected = 0

    @property
    def injected(self) -> int:
        """Faults served so far, queued and random."""
        with self._lock:
            return self._injected

    def fail_next(self, kind: str, n: int = 1, after_tokens: int = 0) -> None:
        fault = Fault(kind)
        if n < 0 or after_tokens < 0:
            raise ValueError("n and after_tokens must not be negative")
        with self._lock:
            self._queue.extend(Injection(fault, after_tokens) for _ in range(n))

    def random_faults(
        self, rate: float, kinds: Iterable[str], seed: int, after_tokens: int | None = None
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if after_tokens is not None and after_tokens < 0:
            raise ValueError("after_tokens must not be negative")
        chosen = tuple(Fault(kind) for kind in kinds)
        with self._lock:
            self._rate = rate
            self._kinds = chosen
            self._after_tokens = after_tokens
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0

    def draw(self, generates_reply: bool) -> Injection | None:
        """The fault for this model request, if any; counts it as served."""
        with self._lock:
            injection = self._take_queued(generates_reply) or self._roll(generates_reply)
            if injection is not None:
                self._injected += 1
            return injection

    def _take_queued(self, generates_reply: bool) -> Injection | None:
        # A reply fault waits in the queue for a route that generates a reply
        # (e.g. /context/create does not), so "fail the next chat" stays true.
        for injection in self._queue:
            if generates_reply or injection.kind not in REPLY_FAULTS:
                self._queue.remove(injection)
                return injection
        return None

    def _roll(self, generates_reply: bool) -> Injection | None:
        if self._rate <= 0.0 or self._rng.random() >= self._rate:
            return None
        kinds = [k for k in self._kinds if generates_reply or k not in REPLY_FAULTS]
        if not kinds:
            return None
        kind = self._rng.choice(kinds)
        after_tokens = self._after_tokens
        if after_tokens is None:
            after_tokens = self._rng.randint(*RANDOM_AFTER_TOKENS)
        return Injection(kind, after_tokens)
