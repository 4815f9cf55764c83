"""Per-run plumbing: settings, identity, the store, the Ark client, language, notices."""

from __future__ import annotations

import gc
import hashlib
import importlib
import logging
import sys
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from chat_core import ark
from chat_core.chat import effective
from chat_core.config import Settings, load_settings, unreadable_secrets
from chat_core.errors import ChatError
from chat_core.identity import (
    IDENTITY_KEYS,
    LOCAL_OWNER,
    Identity,
    login_identity,
    proxy_identity,
)
from chat_core.pricing import PriceTable, load_prices
from chat_core.runner import ReplyRunner
from chat_core.store import Store, open_store

from . import feedback
from .text import language_for, t

KEY_INPUT = "api_key_input"
LANG_CHOICE = "lang_choice"
PREFERRED_LANGUAGE = "preferred_language"  # the owner's preference, read once per session
NOTICES = "notices"
LEGACY_CHECKED = "_legacy_owner_checked"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visit:
    """What every part of the page needs for this run."""

    settings: Settings
    owner: str
    lang: str

    @property
    def api_key(self) -> str | None:
        return st.session_state.get(KEY_INPUT) or self.settings.api_key

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


def secrets() -> Mapping[str, object]:
    """`st.secrets` as a dict; empty when there is no secrets file at all. A file that
    is there but cannot be read raises `ConfigError`: taken as none, a typo would turn
    the login it configures off and open every chat to anyone."""
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, KeyError):
        present = [path for path in st.get_option("secrets.files") if Path(path).is_file()]
        if present:
            raise unreadable_secrets(present[0]) from None
        return {}


def settings_or_stop() -> Settings:
    try:
        return load_settings(secrets=secrets())
    except ChatError as exc:
        feedback.error_here(language_for(st.context.locale), exc)
        st.stop()


def language(settings: Settings) -> str:
    chosen = (
        st.session_state.get(LANG_CHOICE)
        or st.session_state.get(PREFERRED_LANGUAGE)
        or settings.lang
    )
    return language_for(st.context.locale, chosen)


def owner_or_stop(lang: str) -> str:
    """The owner key of the logged-in or proxy-asserted user, else `local`. Stops the
    page when a login or proxy is configured but nobody usable is identified. A user
    whose older key still owns chats gets them moved to the new key (see README,
    "Users")."""
    identity = _identity_or_stop(lang)
    if identity is None:
        return LOCAL_OWNER
    _adopt_legacy_chats(identity, lang)
    return identity.owner


def user_claims() -> dict[str, object]:
    """`st.user` as a dict. With a login configured, the keys a proxy header fills are
    left out: Streamlit lays header values over the login's claims, so a header a
    client sent could pose as the login's email."""
    user = st.user.to_dict()
    if "auth" not in secrets():
        return user
    mapped = set(trusted_user_keys())
    return {key: value for key, value in user.items() if key not in mapped}


def viewer_or_none() -> str | None:
    """The owner key of the visitor when one can be told, without asking anyone to log
    in (a share link for anyone opens without a login): None when a login or a proxy
    is configured but names nobody."""
    user = user_claims()
    if "auth" in secrets():
        identity = login_identity(user) if user.get("is_logged_in") else None
        return identity.owner if identity else None
    mapped = trusted_user_keys()
    identity = proxy_identity(user, mapped or IDENTITY_KEYS)
    if identity is None:
        return None if mapped else LOCAL_OWNER
    return identity.owner


def _identity_or_stop(lang: str) -> Identity | None:
    user = user_claims()
    if "auth" in secrets():
        return _login_or_stop(user, lang)
    mapped = trusted_user_keys()
    # Without a proxy mapping Streamlit leaves st.user empty, so whatever it holds was
    # asserted by the host (an AppTest, say) under the usual keys.
    identity = proxy_identity(user, mapped or IDENTITY_KEYS)
    if identity is None and mapped:
        _refuse(lang, "proxy_identity_missing")
    return identity


def _login_or_stop(user: Mapping[str, object], lang: str) -> Identity:
    if not user.get("is_logged_in"):
        st.title(t(lang, "app_title"))
        st.info(t(lang, "login_needed"))
        st.button(t(lang, "log_in"), on_click=st.login, key="log_in")
        st.stop()
    identity = login_identity(user)
    if identity is None:
        _refuse(lang, "login_identity_missing", log_out=True)
    return identity


def _refuse(lang: str, key: str, *, log_out: bool = False) -> NoReturn:
    """Say why no chat is shown, and stop (nothing is opened or written)."""
    st.title(t(lang, "app_title"))
    st.error(t(lang, key), icon=":material/no_accounts:")
    if log_out:  # so the visitor can try another account
        st.button(t(lang, "log_out"), on_click=st.logout, key="log_out_unidentified")
    st.stop()


def trusted_user_keys() -> list[str]:
    """The `st.user` keys a trusted proxy fills (`server.trustedUserHeaders`' values)."""
    mapping = st.get_option("server.trustedUserHeaders")
    return [str(key) for key in mapping.values()] if isinstance(mapping, Mapping) else []


def _adopt_legacy_chats(identity: Identity, lang: str) -> None:
    """Move the chats an older version kept under this user's legacy key to their
    owner key; checked once per browser session, and again next run if it failed."""
    if identity.legacy is None or st.session_state.get(LEGACY_CHECKED) == identity.owner:
        return
    store = store_or_stop(settings_or_stop(), lang)
    try:
        moved = store.reassign_owner(identity.legacy, identity.owner)
    except ChatError as exc:
        log.warning("Could not move a user's chats to their new owner key: %s", exc)
        return
    st.session_state[LEGACY_CHECKED] = identity.owner
    if moved:
        log.info("Moved %d chats of a user to their new owner key", moved)


def shared_store(settings: Settings) -> Store:
    """The process's store: thread-safe, with its own connection pool, so every run and
    every browser tab shares it. A store that fails to open is tried again next run."""
    return _shared(_stores, _key(settings), lambda: open_store(settings))


def shared_runner(settings: Settings) -> ReplyRunner:
    """The process's reply runner: replies are written on its worker threads, so they
    go on when a page is left, and every tab watches the same reply."""
    return _shared(_runners, _key(settings), lambda: ReplyRunner(shared_store(settings)))


# The store and the runner live as long as the process, outside Streamlit's resource
# cache: any browser can ask the server to clear that cache, which would close the
# store and stop every reply being written. They are kept in a module of their own,
# made here: when a source file changes, Streamlit reloads the app's modules (this one
# too) but leaves a module without a file alone.
_KEPT = sys.modules.setdefault("ark_chat_process", types.ModuleType("ark_chat_process"))
_stores: dict[tuple, Store] = _KEPT.__dict__.setdefault("stores", {})
_runners: dict[tuple, ReplyRunner] = _KEPT.__dict__.setdefault("runners", {})
# A runner opens its store while holding it.
_shared_lock = _KEPT.__dict__.setdefault("lock", threading.RLock())


def _key(settings: Settings) -> tuple:
    return settings.db, settings.busy_timeout, settings.max_message_chars


def _shared(made: dict, key: tuple, make):
    with _shared_lock:
        if key not in made:
            made[key] = make()  # one that raises is not kept: tried again next run
        return made[key]


def release_shared() -> None:
    """Stop the process's runners and close its stores (tests; a process that ends
    stops its runners through `atexit`)."""
    with _shared_lock:
        runners, stores = list(_runners.values()), list(_stores.values())
        _runners.clear()
        _stores.clear()
    for runner in runners:
        runner.shutdown()
    for store in stores:
        store.close()


def store_or_stop(settings: Settings, lang: str) -> Store:
    try:
        return shared_store(settings)
    except ChatError as exc:
        feedback.error_here(lang, exc)
        st.stop()


def client(visit: Visit):
    """The Ark client of this browser session, rebuilt when the key or endpoint changes.

    Kept across runs so the HTTPS connection to Ark stays open between turns. Raises
    `MissingKeyError` without a key.
    """
    key = visit.api_key or ""
    fingerprint = hashlib.sha256(
        f"{visit.settings.base_url}\0{key}\0{visit.settings.timeout}".encode()
    ).hexdigest()
    cached = st.session_state.get("_ark_client")
    if cached and cached[0] == fingerprint:
        return cached[1]
    if cached:
        cached[1].close()  # the key or endpoint changed: release the old connections
    built = ark.make_client(visit.settings, api_key=key, ssl_context=_ssl_context())
    st.session_state["_ark_client"] = (fingerprint, built)
    return built


def notify(key: str, **values: object) -> None:
    """Queue a notice for the next run of the page (see `feedback`)."""
    feedback.notice(key, **values)


def select_session(session_id: str) -> None:
    st.query_params.pop("temporary", None)  # a stored chat replaces a temporary one
    st.query_params["session"] = session_id


def rerun_fragment_or_page() -> None:
    """Rerun only the running fragment when this is a fragment run; during a full run
    (a fragment-scoped rerun is not allowed then) rerun the page."""
    ctx = get_script_run_ctx()
    st.rerun(scope="fragment" if ctx is not None and ctx.fragment_ids_this_run else "app")


def prices(settings: Settings, session=None) -> PriceTable:
    """The price table, re-read only when the override file changes; with a `session`,
    its endpoint is priced as the catalogue model the chat says it serves."""
    path = settings.prices_path
    stamp = path.stat().st_mtime if path is not None and path.exists() else None
    table = _prices(path, stamp)
    if session is None:
        return table
    chosen = effective(session, settings)  # the alias may come with the default model
    return table.serving(chosen["model"], chosen["model_alias"])


@st.cache_resource(show_spinner=False)
def _prices(path, stamp) -> PriceTable:
    return load_prices(path)


@st.cache_resource(show_spinner=False)
def warm_up_model_layer() -> None:
    """Import the Ark SDK in the background once per process, after the first page is
    out, so neither the first page nor the first message waits for it."""
    threading.Thread(target=_warm_up, name="warm-up-ark-sdk", daemon=True).start()


def _warm_up() -> None:
    # The SDK, and Streamlit's emoji catalogue, which its first notice in a language
    # written without ASCII (Chinese) would otherwise wait for.
    for name in ("chat_core.ark.turn", "chat_core.ark.client", "streamlit.emojis"):
        importlib.import_module(name)
    # Streamlit runs a full collection after every script run; with the ~150k objects
    # of the imported libraries moved out of its reach it takes milliseconds, not ~100.
    gc.freeze()


@st.cache_resource(show_spinner=False)
def _ssl_context():
    """One TLS context for all clients: building one costs ~25 ms per browser tab."""
    import httpx  # here, not at the top: importing it takes ~50 ms the first page needs not

    return httpx.create_ssl_context()
