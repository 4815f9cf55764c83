"""Asking a generic OpenAI-compatible server what it can do, once per server and model.

- Its context size: llama.cpp's `llama-server` reports `n_ctx` at `GET /props` (at the
  server's root, not under `/v1`); vLLM has no /props but gives each model's
  `max_model_len` in `GET /v1/models`. Other servers (Ollama) say neither; theirs stays
  unknown. (llama.cpp's /v1/models gives `n_ctx_train`, the size the model was trained
  with, not the one the server runs: it is not used.)
- The models it serves: the ids `GET /v1/models` lists, which the model picker offers,
  and who serves the chat's model (its entry's `owned_by`: "vllm" on vLLM), which says
  how to ask for a final assistant message to be continued.
- Whether it chains Responses: two one-token responses, the second naming the first as
  `previous_response_id`. llama.cpp refuses the second (400 "llama.cpp does not support
  'previous_response_id'."); a server that stores responses answers it.

Answers are kept for the life of the process; a probe the network, the server's own
failure, or a refusal of the key or of the moment (401, 403, 408, 429) left unanswered
is asked again at the next turn.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

import httpx
from volcenginesdkarkruntime._exceptions import (
    ArkAPIConnectionError,
    ArkAPIStatusError,
    ArkInternalServerError,
)

from ..config import Settings
from ..errors import ChatError
from ..provider import GENERIC, ServerFacts
from .client import make_client
from .params import responses_body

PROBE_TIMEOUT = 10.0
PROBE_INPUT = "Reply with one word."
log = logging.getLogger(__name__)

_known: dict[tuple[str, str], ServerFacts] = {}
_asked: dict[tuple[str, str], set[str]] = {}
_asking: set[tuple[str, str]] = set()
_lock = threading.Lock()


# Refusals that say nothing of what the server can do: of the key (401, 403) or of the
# moment (408, 429). A wrong key must not teach the process that the server lacks a
# route or cannot chain responses.
_REFUSED_FOR_NOW = frozenset({401, 403, 408, 429})


class _Unanswered(Exception):
    """The server could not be asked (down, failing, or refusing the key or the
    moment): nothing is learnt."""


def _says_nothing(exc: ArkAPIStatusError) -> bool:
    return isinstance(exc, ArkInternalServerError) or exc.status_code in _REFUSED_FOR_NOW


def server_facts(
    client: Any,
    model: str,
    *,
    chaining: bool,
    context_size: bool,
    models: bool = False,
    served_by: bool = False,
) -> ServerFacts:
    """What the server behind `client` is known to do for `model`, asking it what is
    wanted and not asked yet."""
    key = _key(base_url(client), model)
    questions = {
        "context_size": (context_size, lambda: _context_size(client, model)),
        "chains_responses": (chaining, lambda: _chains_responses(client, model)),
        "models": (models, lambda: _models(client)),
        "served_by": (served_by, lambda: _served_by(client, model)),
    }
    for name, (wanted, ask) in questions.items():
        with _lock:
            asked = name in _asked.get(key, set())
        if wanted and not asked:
            _learn(key, name, ask)
    with _lock:
        return _known.get(key, ServerFacts())


def known_facts(base_url: str, model: str) -> ServerFacts:
    """What is known of the server at `base_url` for `model`, without asking it."""
    with _lock:
        return _known.get(_key(base_url, model), ServerFacts())


def ask_in_background(settings: Settings, api_key: str, model: str) -> None:
    """Start finding out what the server can do, unless that is known or under way; a
    page shows the answer once it is in (`known_facts`), without waiting for it."""
    key = _key(settings.base_url, model)
    with _lock:
        if "chains_responses" in _asked.get(key, set()) or key in _asking:
            return
        _asking.add(key)
    threading.Thread(
        target=_ask, args=(settings, api_key, model, key), name="probe-server", daemon=True
    ).start()


def _ask(settings: Settings, api_key: str, model: str, key: tuple[str, str]) -> None:
    try:
        with make_client(settings, api_key=api_key) as client:
            server_facts(client, model, chaining=True, context_size=True, models=True)
    except ChatError as exc:  # a key no request can carry: the page says so already
        log.warning("could not ask the server what it supports: %s", exc.code)
    except Exception:  # a probe that fails is asked again; the page never depends on it
        log.exception("could not ask the server what it supports")
    finally:
        with _lock:
            _asking.discard(key)


def forget() -> None:
    """Drop every answer (a test, or a server restarted with other settings)."""
    with _lock:
        _known.clear()
        _asked.clear()


def _learn(key: tuple[str, str], name: str, ask) -> None:
    try:
        answer = ask()
    except _Unanswered:
        return  # asked again next time
    with _lock:
        _known[key] = replace(_known.get(key, ServerFacts()), **{name: answer})
        _asked.setdefault(key, set()).add(name)


def _context_size(client: Any, model: str) -> int | None:
    n_ctx = _n_ctx(_get(client, _root(base_url(client)) + "/props", outside_api=True))
    if n_ctx is not None:
        return n_ctx
    return _max_model_len(_get(client, "/models"), model)


def _models(client: Any) -> tuple[str, ...] | None:
    cards = _cards(_get(client, "/models"))
    ids = tuple(card["id"] for card in cards if isinstance(card.get("id"), str))
    return ids or None


def _served_by(client: Any, model: str) -> str | None:
    for card in _cards(_get(client, "/models")):
        if card.get("id") == model and isinstance(card.get("owned_by"), str):
            return card["owned_by"]
    return None


def _get(client: Any, path: str, *, outside_api: bool = False) -> object:
    """The JSON a GET of `path` (a full URL, or relative to the base URL) answers; None
    when the server has no such route or refuses it. A route `outside_api` (llama.cpp's
    /props) that a gateway refuses, whatever the status, is taken as absent: the key and
    the moment are judged on the API's own routes."""
    try:
        return client.get(path, cast_to=object, options={"timeout": PROBE_TIMEOUT})
    except ArkAPIStatusError as exc:
        if isinstance(exc, ArkInternalServerError) or (not outside_api and _says_nothing(exc)):
            raise _Unanswered from exc
        return None  # no such route here: nothing is learnt from it
    except (ArkAPIConnectionError, httpx.TransportError) as exc:
        raise _Unanswered from exc


def _n_ctx(props: object) -> int | None:
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return n_ctx if _is_size(n_ctx) else None


def _cards(listing: object) -> list[dict]:
    data = listing.get("data") if isinstance(listing, dict) else None
    return [card for card in data if isinstance(card, dict)] if isinstance(data, list) else []


def _max_model_len(listing: object, model: str) -> int | None:
    for card in _cards(listing):
        size = card.get("max_model_len")
        if card.get("id") == model and _is_size(size):
            return size
    return None


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _chains_responses(client: Any, model: str) -> bool:
    common = {"model": model, "input": PROBE_INPUT, "max_output_tokens": 1, "store": True}
    create = client.responses.create
    try:
        first = create(**responses_body(GENERIC, **common), timeout=PROBE_TIMEOUT)
        create(
            **responses_body(GENERIC, **common, previous_response_id=first.id),
            timeout=PROBE_TIMEOUT,
        )
    except ArkAPIStatusError as exc:
        if _says_nothing(exc):
            raise _Unanswered from exc
        log.info("the server does not chain responses (%s)", exc.status_code)
        return False
    except (ArkAPIConnectionError, httpx.TransportError) as exc:
        raise _Unanswered from exc
    return True


def base_url(client: Any) -> str:
    """The client's base URL (the SDK keeps it on the client, with no public name)."""
    return str(client._base_url)


def _key(url: str, model: str) -> tuple[str, str]:
    return url.strip().rstrip("/"), model


def _root(url: str) -> str:
    """The server's root: the base URL without its `/v1` API prefix."""
    base = url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base
