"""What the HTTP side serves from. Handlers and routes use these objects only through their
public methods, and read settings only through `Settings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .contexts import ContextStore
    from .faults import FaultPlan
    from .log import InFlight, RecordedRequest
    from .modes import Mode
    from .responses_api import ResponseStore


class Settings(Protocol):
    """The knobs routes read at each request (`ArkEmulator` provides them)."""

    api_key: str
    ttft: float
    token_delay: float
    reply_tokens: int | None
    reasoning: bool | None
    reject_concurrent_context_use: bool
    n_ctx: int
    output_limit: int | None
    search_seconds: float
    props_refused: int | None
    stores_responses: bool
    like: str
    verbose: bool

    def now(self) -> float: ...


@dataclass(frozen=True)
class Backend:
    settings: Settings
    mode: Mode
    record: Callable[[RecordedRequest], None]  # logs a request as it arrives
    in_flight: InFlight
    faults: FaultPlan
    contexts: ContextStore
    responses: ResponseStore
