"""Which kind of server the app talks to, and what that server can do.

Two providers: Ark (the default), and any OpenAI-compatible server (llama.cpp's
`llama-server`, Ollama, vLLM, ...), called "generic". `ARK_PROVIDER` names one, or
`auto` tells them apart by the base URL: Ark's hosts and any URL ending in Ark's
`/api/v3` (or `/api/<plan>/v3`) path are Ark, everything else is generic.

What a generic server can serve is learnt by asking it (see `chat_core.ark.probe`) and
kept in `ServerFacts`: the conversation modes it supports, the models it lists and,
where it says so, its context size. A mode it cannot serve is refused before anything
is sent, with an error that names the server's limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ModeUnavailableError

ARK = "ark"
GENERIC = "generic"
PROVIDER_CHOICES = ("auto", ARK, GENERIC)
STATELESS, CONTEXT, RESPONSES = "off", "context", "responses"
ALL_MODES = (STATELESS, CONTEXT, RESPONSES)
ARK_HOST_SUFFIXES = (".volces.com", ".bytepluses.com", ".volcengineapi.com")
_ARK_PATH = re.compile(r"/api(?:/[a-z]+)?/v3/?$")


def detect(base_url: str) -> str:
    """`ark` for an Ark host or an Ark-shaped API path, else `generic`."""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if any(host.endswith(suffix) or host == suffix[1:] for suffix in ARK_HOST_SUFFIXES):
        return ARK
    return ARK if _ARK_PATH.search(parts.path or "") else GENERIC


def resolve(choice: str, base_url: str) -> str:
    """The provider for a setting (`auto`, `ark` or `generic`) and a base URL."""
    return detect(base_url) if choice == "auto" else choice


@dataclass(frozen=True)
class ServerFacts:
    """What a server is known to support. `None` means not known (not asked, or the
    server did not say)."""

    chains_responses: bool | None = None  # previous_response_id works
    # Tokens of prompt and reply together: llama.cpp's n_ctx, vLLM's max_model_len.
    context_size: int | None = None
    models: tuple[str, ...] | None = None  # the model names GET /models lists
    served_by: str | None = None  # who serves the model, as its GET /models entry says


ARK_FACTS = ServerFacts(chains_responses=True)


def modes_offered(provider: str, facts: ServerFacts) -> tuple[str, ...]:
    """The conversation modes a chat may choose on this server: stateless always;
    Responses chaining on Ark, or on a generic server shown to chain; the Context API
    on Ark only."""
    if provider == ARK:
        return ALL_MODES
    return (STATELESS, RESPONSES) if facts.chains_responses else (STATELESS,)


def check_mode(provider: str, mode: str, facts: ServerFacts) -> None:
    """Raise `ModeUnavailableError`, naming the server's limit, when `mode` cannot be
    served; called before anything is sent."""
    if provider == ARK or mode == STATELESS:
        return
    if mode == CONTEXT:
        raise ModeUnavailableError("server_has_no_context_api")
    if mode == RESPONSES and facts.chains_responses is False:
        # Not known (the server could not be asked): the request itself will tell.
        raise ModeUnavailableError("server_cannot_chain_responses")
