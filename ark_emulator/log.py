"""The request log, and the count of requests being served (so tests can wait for idle)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RecordedRequest:
    """A request as it arrived; `path` is without the API prefix (/api/v3, or /v1 in generic
    mode)."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict | None  # parsed JSON, nulls kept; None for GET/DELETE or a body that is not JSON


class RequestLog:
    """Every request in order of arrival; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


class InFlight:
    """Counts the requests being served, from arrival until their answer is written, cut or
    abandoned by the client."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no request is being served; False if that takes over `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)
