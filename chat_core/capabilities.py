"""What a chat's model and conversation mode allow, and why an option is not available.

The settings offer only what works and say why the rest is not there; sending checks
again, so a combination that cannot work is refused before anything is written or sent.
A model the catalogue does not know (an endpoint no chat has said anything about, a
custom id) is given the benefit of the doubt: nothing is refused for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import ModelInfo, is_endpoint, model_info
from .config import CACHE_MODES, REASONING_EFFORTS, THINKING_MODES
from .errors import EndpointRequiredError, InvalidInputError
from .provider import ARK

# Why an option is not offered: keys of the UI texts.
CONTEXT_NEEDS_ENDPOINT = "unavailable_context_needs_endpoint"
TEXT_ONLY = "unavailable_text_only"
NO_EFFORT = "unavailable_no_effort"
CONTEXT_NO_EFFORT = "unavailable_context_no_effort"
SEARCH_NEEDS_RESPONSES = "unavailable_search_needs_responses"
THINKING_MODE_UNAVAILABLE = "unavailable_thinking_mode"
_FALLBACK_THINKING = ("disabled", "enabled", "auto")


@dataclass(frozen=True)
class Options:
    """What a chat may choose: each `…_reason` is None when the option is available,
    else the key of the text that says why not; `thinking_modes` are those the model
    takes (a mode it lacks is named with THINKING_MODE_UNAVAILABLE)."""

    model: ModelInfo | None
    cache_modes: dict[str, str | None]
    effort_levels: tuple[str, ...]
    effort_reason: str | None
    search_reason: str | None
    images_reason: str | None
    thinking_modes: tuple[str, ...]

    def mode_allowed(self, mode: str) -> bool:
        return self.cache_modes.get(mode, "") is None

    def thinking_for(self, chosen: str) -> str:
        """The thinking mode sent for `chosen`: itself where the model takes it, else the
        first the model does in the order off, on, auto (off costs least: "auto" on a
        model without it does not think)."""
        if chosen in self.thinking_modes:
            return chosen
        return next(mode for mode in _FALLBACK_THINKING if mode in self.thinking_modes)


def options(model: str, alias: str | None, cache_mode: str) -> Options:
    """What `model` (serving `alias`, when it is an endpoint) allows in `cache_mode`."""
    info = model_info(model, alias)
    modes = {mode: None for mode in CACHE_MODES}
    if not is_endpoint(model):
        modes["context"] = CONTEXT_NEEDS_ENDPOINT
    effort_reason = None
    if info is not None and not info.takes_reasoning_effort:
        effort_reason = NO_EFFORT
    elif cache_mode == "context":
        effort_reason = CONTEXT_NO_EFFORT
    return Options(
        model=info,
        cache_modes=modes,
        effort_levels=info.effort_levels if info is not None else REASONING_EFFORTS,
        effort_reason=effort_reason,
        search_reason=None if cache_mode == "responses" else SEARCH_NEEDS_RESPONSES,
        images_reason=TEXT_ONLY if info is not None and not info.images else None,
        thinking_modes=info.thinking_modes if info is not None else THINKING_MODES,
    )


def reads_images(model: str, alias: str | None) -> bool:
    """False for a model known to read text only."""
    return options(model, alias, "off").images_reason is None


def check_images(model: str, alias: str | None, count: int) -> None:
    """Refuse images for a model known to read text only (before anything is written)."""
    if count and not reads_images(model, alias):
        raise InvalidInputError("images_not_supported", model=model)


def check_mode(model: str, alias: str | None, cache_mode: str, provider: str) -> None:
    """Refuse a conversation mode Ark cannot serve for `model` (the Context API with a
    model id) before anything is written. A generic server's modes are the provider's."""
    if provider == ARK and not options(model, alias, cache_mode).mode_allowed(cache_mode):
        raise EndpointRequiredError("endpoint_required", model=model)


def sent_effort(model: str, alias: str | None, cache_mode: str, effort: str | None) -> str | None:
    """The reasoning effort to send: the chat's choice where the model and mode take it."""
    if effort is None:
        return None
    allowed = options(model, alias, cache_mode)
    if allowed.effort_reason is not None or effort not in allowed.effort_levels:
        return None
    return effort


def sent_thinking(model: str, alias: str | None, thinking: str) -> str:
    """The thinking mode to send: a stored or default mode the model cannot take is
    never sent, one it takes is (see `Options.thinking_for`)."""
    return options(model, alias, "off").thinking_for(thinking)
