"""The conversation modes the app's server can serve, for the chat settings.

Ark serves all three. Another OpenAI-compatible server serves stateless chat; Responses
chaining once it has shown that it keeps responses (it is asked in the background, so
the page never waits for it); never the Context API, which only Ark has.
"""

from __future__ import annotations

from chat_core.config import CACHE_MODES
from chat_core.provider import ARK, modes_offered

from .runtime import Visit


def server_modes(visit: Visit, model: str) -> dict[str, str | None]:
    """Each mode, with None when the server serves it, else the key of a text that says
    why not (formatted with the mode's name as `option`)."""
    settings = visit.settings
    if settings.provider_kind == ARK:
        return dict.fromkeys(CACHE_MODES)
    from chat_core.ark import probe  # the SDK loads only for a generic server

    facts = probe.known_facts(settings.base_url, model)
    if facts.chains_responses is None and visit.api_key:
        probe.ask_in_background(settings, visit.api_key, model)
    offered = modes_offered(settings.provider_kind, facts)
    reasons = {
        "context": "server_no_context",
        "responses": "server_checking" if facts.chains_responses is None else "server_no_chaining",
    }
    return {mode: None if mode in offered else reasons[mode] for mode in CACHE_MODES}
