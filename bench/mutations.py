"""Mutation testing of the README's promises: break the code behind each promise in
one small way, run the tests that defend it, and count the breaks they catch.

It rewrites source files while it runs, so it never mutates the tree it is started
from: it clones that repository's last commit into a temporary folder, runs there
(uncommitted edits are not part of the run) and removes the clone at the end:

    python bench/mutations.py [--only WORD] [--list] [--no-browser]

(`--here` mutates the tree it runs in; the script uses it in its clone.)

Every mutation names the promise it attacks (in the README's words), the text it
replaces (found exactly once in its file, so line numbers do not matter) and the tests
that must fail. Before mutating, the chosen tests run once on the clean tree and must
pass, and the script checks that Python imports `chat_core`, `ui` and `ark_emulator`
from this tree. A mutation whose text is no longer in its file is reported as stale:
the code moved, and the mutation must be updated. Exit status 0 when no mutation
survives and none is stale.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_SECONDS = 900  # one pytest run, browser tests included
# pytest's exit codes. A mutant that stops a test module from importing (2) proves
# nothing about the tests: the mutation itself must change.
OUTCOMES = {0: "SURVIVED", 1: "caught", 2: "broken", 5: "no tests"}


@dataclass(frozen=True)
class Mutation:
    promise: str  # what the README says, which this mutation breaks
    path: str  # relative to the repository root
    before: str  # found exactly once in the file
    after: str
    tests: tuple[str, ...]  # pytest node ids that must fail

    @property
    def browser(self) -> bool:
        return any("test_browser" in test for test in self.tests)


M = Mutation
APP = "tests/test_app.py::"
CHAT = "tests/test_chat.py::"
MODES = "tests/test_ark_modes.py"
IDENTITY = "tests/test_identity.py"
IMAGES = "tests/test_browser_remote_images.py"
SHARES = "tests/test_shares.py"

MUTATIONS = [
    # --- Users -----------------------------------------------------------------------------
    M(
        "When the option is set and a request arrives without the header, the app refuses "
        "to show chats",
        "ui/runtime.py",
        '        _refuse(lang, "proxy_identity_missing")',
        "        pass",
        (APP + "test_a_missing_proxy_header_is_refused",),
    ),
    M(
        "Emails compare case-insensitively",
        "chat_core/identity.py",
        '("email", value.casefold()) if key == "email"',
        '("email", value) if key == "email"',
        (IDENTITY, APP + "test_a_proxy_user_is_one_owner_whatever_the_case_and_gets_older_chats"),
    ),
    M(
        "A key longer than 200 characters is stored as its SHA-256, never cut",
        "chat_core/identity.py",
        "    if len(key) <= MAX_KEY_CHARS and not _UNSTORABLE.search(key):\n        return key\n",
        "    if not _UNSTORABLE.search(key):\n        return key[:MAX_KEY_CHARS]\n",
        (IDENTITY, APP + "test_long_identities_sharing_a_prefix_never_share_chats"),
    ),
    M(
        "Every key from a login or a header has a prefix, so none is ever the local owner",
        "chat_core/identity.py",
        '    key = f"{kind}:{value}"',
        '    key = value if value == "local" else f"{kind}:{value}"',
        (IDENTITY, APP + "test_a_proxy_user_named_local_never_sees_the_single_user_chats"),
    ),
    M(
        "The owner is the account at the identity provider, its issuer and subject, so the "
        "chats stay with the account when its email changes",
        "chat_core/identity.py",
        "    if issuer and subject:\n",
        "    if issuer and subject and not email:\n",
        (IDENTITY, APP + "test_a_login_is_keyed_by_its_subject_and_gets_its_verified_email_chats"),
    ),
    M(
        "A login without a subject is keyed by its email, and only when the provider marks "
        "it verified",
        "chat_core/identity.py",
        "    if verified is True or",
        "    if True or",
        (IDENTITY, APP + "test_a_login_without_a_usable_identity_gets_a_message"),
    ),
    M(
        "Every store call is scoped to an owner: a chat id of another owner behaves exactly "
        "like an unknown id",
        "chat_core/store/sql.py",
        '"SELECT * FROM chat_session WHERE id = ? AND owner = ?", [session_id, owner]',
        "\"SELECT * FROM chat_session WHERE id = ? AND ? <> ''\", [session_id, owner]",
        ("tests/test_store_owners.py", APP + "test_foreign_session_is_never_shown"),
    ),
    M(
        "The app listens on 127.0.0.1 only, so nobody else on the network can open it",
        ".streamlit/config.toml",
        'address = "127.0.0.1"',
        'address = "0.0.0.0"',
        ("tests/test_serving.py",),
    ),
    # --- New chat, nothing is lost ---------------------------------------------------------
    M(
        'New chat takes you to your latest chat that has no message yet ("Continue in the '
        'session you have not started yet")',
        "ui/sidebar.py",
        "    if not is_new:\n",
        "    if is_new:\n",
        (APP + "test_new_chat_reuses_the_unused_session_with_a_notice",),
    ),
    M(
        "A reply cut off by a rerun or a closed tab is saved with the text that had "
        "arrived and the status interrupted",
        "chat_core/chat.py",
        '        self.status = "interrupted"  # what an abandoned iteration leaves',
        '        self.status = "complete"',
        (CHAT + "test_abandoned_reply_is_saved_as_interrupted_with_partial_text",),
    ),
    M(
        "A reply cut off by an API error is saved with the text that had arrived",
        "chat_core/recording.py",
        "            content=response.text,",
        '            content=response.text if status != "error" else "",',
        (CHAT + "test_error_mid_stream_keeps_partial_text_and_raises",),
    ),
    M(
        "A reply cut off by the Stop button is saved with the text that was shown",
        "chat_core/runner.py",
        "        content = current.message.content if shown is None else shown",
        "        content = current.message.content",
        ("tests/test_runner.py::test_stop_saves_exactly_what_was_shown",),
    ),
    M(
        "A reply's first text is saved (and shown) at once",
        "chat_core/recording.py",
        "        first = not self._text_saved and (response.content or response.reasoning)",
        "        first = False",
        (CHAT + "test_a_streaming_reply_saves_its_first_text_at_once",),
    ),
    M(
        "While a reply streams, its text is saved every PUBLISH_SECONDS, and pages show "
        "what is saved",
        "chat_core/runner.py",
        "        self.reply.recorder.save_every = PUBLISH_SECONDS",
        "        pass",
        ("tests/test_runner.py::test_a_page_is_shown_only_what_is_stored",),
    ),
    M(
        "A live reply's row carries a heartbeat every 5 s",
        "chat_core/runner.py",
        "                self._quietly(live.beat)",
        "                pass",
        ("tests/test_runner.py::test_a_live_reply_keeps_beating",),
    ),
    M(
        "Rows silent for 30 s are marked interrupted with what was saved, and that chat's "
        "cache state is dropped",
        "chat_core/store/base.py",
        '        chat_values = {**CACHE_RESET, "updated_at": utc_now()}',
        '        chat_values = {"updated_at": utc_now()}',
        (
            "tests/test_runner.py::test_a_reply_whose_writer_died_is_finished_with_its_cache_dropped",
        ),
    ),
    M(
        "A user runs at most 3 replies at once (one more is refused with a message)",
        "chat_core/runner.py",
        "        if len(own) >= self.max_per_owner:",
        "        if len(own) > self.max_per_owner:",
        ("tests/test_runner.py::test_limits_per_user_and_per_process",),
    ),
    M(
        "Two tabs never merge: a first message goes to your unused chat (or a new one) when "
        "another tab has started the chat meanwhile",
        "chat_core/chat.py",
        "        return send(store, settings, session, client, text, only_if_unused=True, images",
        "        return send(store, settings, session, client, text, images",
        ("tests/test_runner.py::test_a_first_message_never_joins_a_chat_another_tab_started",),
    ),
    M(
        "An action reports success only when it succeeded (a failed delete never says "
        '"Chat deleted.")',
        "ui/sidebar.py",
        "    try:\n        action()\n",
        "    if done is not None:\n        feedback.notice(done)\n    try:\n        action()\n",
        (APP + "test_a_failed_delete_never_says_deleted",),
    ),
    # --- Conversation modes ----------------------------------------------------------------
    M(
        "A failed or interrupted turn in a caching mode drops the cache state",
        "chat_core/recording.py",
        '        elif status != "complete" and self.cache_mode != "off":',
        '        elif status == "error" and self.cache_mode != "off":',
        (CHAT + "test_interrupted_turn_in_a_caching_mode_drops_the_cache_state",),
    ),
    M(
        "A failed or interrupted turn in a caching mode drops the cache state (Stop)",
        "chat_core/runner.py",
        '        if self.reply.request.cache_mode != "off":',
        "        if False:",
        ("tests/test_runner.py::test_stop_saves_exactly_what_was_shown",),
    ),
    M(
        "responses: an expired or unknown previous response is replaced by replaying the "
        "history in a fresh chain",
        "chat_core/ark/responses_mode.py",
        "        stream = _open(client, request, None)  # replay the history instead",
        "        raise",
        (MODES, CHAT + "test_caching_modes_store_their_state_and_recover_from_expiry"),
    ),
    M(
        "context: when Ark reports the context expired or unknown, the app re-creates it "
        "from the stored history and retries once",
        "chat_core/ark/context_mode.py",
        "        context_id = _create_context(client, request)\n        started = time.time()",
        "        raise",
        (MODES,),
    ),
    M(
        "context: it needs an ep- endpoint id; with a plain model id the app says so "
        "instead of calling",
        "chat_core/ark/context_mode.py",
        "    if model.startswith(ENDPOINT_PREFIX):",
        "    if True:",
        (MODES,),
    ),
    M(
        "responses: the system prompt is sent as a system message",
        "chat_core/ark/responses_mode.py",
        "        request.system_prompt, request.history, request.history_tokens,",
        '        "", request.history, request.history_tokens,',
        (MODES,),
    ),
    M(
        "off: the oldest turns are dropped to fit ARK_HISTORY_TOKENS",
        "chat_core/ark/history.py",
        "    while first < len(turns) and total > budget:",
        "    while False:",
        (
            "tests/test_ark_pricing.py",
            CHAT + "test_a_long_chat_loads_only_the_history_that_fits_the_budget",
        ),
    ),
    M(
        "ARK_CONTEXT_TTL is kept within Ark's documented 3600 to 604800",
        "chat_core/config.py",
        "        context_ttl=min(max(ttl, CONTEXT_TTL_RANGE[0]), CONTEXT_TTL_RANGE[1]),",
        "        context_ttl=ttl,",
        ("tests/test_config.py",),
    ),
    # --- What a reply shows ----------------------------------------------------------------
    M(
        "Markdown rendered, raw HTML never executed (a reply drawn live, finished blocks)",
        "ui/watch.py",
        "                st.markdown(for_display(block))",
        "                st.markdown(for_display(block), unsafe_allow_html=True)",
        (IMAGES,),
    ),
    M(
        "Markdown rendered, raw HTML never executed (a reply drawn live, the growing block)",
        "ui/watch.py",
        "            self._growing.markdown(for_display(growing))",
        "            self._growing.markdown(for_display(growing), unsafe_allow_html=True)",
        (APP + "test_model_output_html_is_not_rendered_as_html", IMAGES),
    ),
    M(
        "Markdown rendered, raw HTML never executed (a stored reply)",
        "ui/messages.py",
        "            st.markdown(for_display(message.content))",
        "            st.markdown(for_display(message.content), unsafe_allow_html=True)",
        (APP + "test_model_output_html_is_not_rendered_as_html", IMAGES),
    ),
    M(
        "An image in an answer is shown as a link: the browser never fetches a remote image",
        "chat_core/markdown.py",
        "                marks.append(at)",
        "                pass",
        ("tests/test_markdown.py",),
    ),
    M(
        "An image in an answer is shown as a link: the browser never fetches a remote image "
        '(no other "![" that could start an image is left, in code too)',
        "chat_core/markdown.py",
        "        parts[index] = _IMAGE_START.sub(_unless_local, part)  # code may be read as text",
        "        parts[index] = part",
        (IMAGES,),
    ),
    M(
        "The user's text shows as typed",
        "ui/messages.py",
        "            st.text(message.content)",
        "            st.markdown(message.content)",
        (APP + "test_round_trip_streams_and_stores_the_reply",),
    ),
    M(
        "Chat titles show as typed",
        "ui/sidebar.py",
        '    return (":material/keep: " if session.pinned else "") + escape(title)',
        '    return (":material/keep: " if session.pinned else "") + title',
        (APP + "test_titles_in_the_sidebar_show_as_typed",),
    ),
    M(
        "Titles are plain text everywhere (the header above the chat)",
        "ui/app.py",
        '        st.text(session.title or t(visit.lang, "untitled"))',
        '        st.markdown(session.title or t(visit.lang, "untitled"))',
        ("tests/test_app_input.py::test_the_title_above_the_chat_shows_as_typed",),
    ),
    M(
        "A refused message stays in the input, where the user typed it",
        "ui/chat_view.py",
        "            st.session_state[REFILL] = prompt",
        "            pass",
        ("tests/test_app_input.py",),
    ),
    M(
        "A model without a known price shows its tokens and no cost",
        "ui/costs.py",
        "    if found is None:\n        return []",
        "    if found is None:\n        return [money(lang, Decimal(0))]",
        (APP + "test_a_model_without_a_price_shows_its_tokens_and_no_cost",),
    ),
    M(
        "Costs bill cached tokens at the cached-input price",
        "chat_core/pricing.py",
        "        + cached * (rates.cached_input or 0)",
        "        + cached * rates.input",
        ("tests/test_ark_pricing.py",),
    ),
    M(
        "Errors, old ones included, show in the language you read them in",
        "ui/text.py",
        "        return locales.error_text(lang, message.error_code, message.error_params,",
        '        return locales.error_text("zh", message.error_code, message.error_params,',
        (APP + "test_an_error_is_shown_in_the_language_the_page_is_drawn_in",),
    ),
    M(
        "Everything that is not the model's answer is escaped (an error text an older "
        "version stored, shown as it was)",
        "ui/text.py",
        '    return escape(message.error or "")',
        '    return message.error or ""',
        (APP + "test_an_old_error_text_without_a_code_is_shown_literally",),
    ),
    # --- Input, search, storage ------------------------------------------------------------
    M(
        "ARK_MAX_RETRIES: retries the SDK makes on 429, 5xx and connection errors",
        "chat_core/ark/client.py",
        "        max_retries=settings.max_retries,",
        "        max_retries=0,",
        ("tests/test_ark_errors.py::test_the_sdk_retries_as_many_times_as_configured",),
    ),
    M(
        "ARK_API_KEY is never logged, echoed or stored",
        "chat_core/config.py",
        "    api_key: str | None = field(default=None, repr=False)",
        "    api_key: str | None = None",
        ("tests/test_config.py",),
    ),
    M(
        "Longer (or empty) messages are refused and nothing is written",
        "chat_core/text.py",
        "    if not text.strip():",
        "    if not text:",
        ("tests/test_store.py",),
    ),
    M(
        "Search input is always quoted, so FTS syntax in a query is searched literally",
        "chat_core/store/sqlite_search.py",
        "    return '\"' + text.replace('\"', '\"\"') + '\"'",
        "    return text",
        ("tests/test_search.py",),
    ),
    M(
        "A title imported with a chat is shown in the notice as plain text",
        "ui/feedback.py",
        "plain = {k: literal(v) if isinstance(v, str) else v",
        "plain = {k: v if isinstance(v, str) else v",
        ("tests/test_app_import.py",),
    ),
    M(
        "Export and import are a per-chat backup path: the chat's settings survive",
        "chat_core/transfer.py",
        '            "settings": self.settings,',
        '            "settings": {},',
        ("tests/test_transfer.py::test_every_setting_survives_the_json_round_trip",),
    ),
    M(
        "Importing the same file again opens the chat it made instead of a duplicate",
        "chat_core/transfer.py",
        "    content = [owner, title, counted, [fingerprint(message) for message in messages]]",
        "    content = [owner, title, counted, id(messages)]",
        ("tests/test_transfer.py::test_importing_the_same_file_again_is_detected",),
    ),
    M(
        "A file written by a newer version of the app is refused, and nothing is written to it",
        "chat_core/store/sqlite.py",
        "        if unknown:\n",
        "        if False:\n",
        ("tests/test_migrations.py",),
    ),
    M(
        "A file of the first version is upgraded in place after a backup copy is written "
        "next to it",
        "chat_core/store/sqlite_upgrade.py",
        "    backup = _backup(conn, path) if legacy else None",
        "    backup = None",
        ("tests/test_first_version.py",),
    ),
    M(
        "Storage: one unused chat per owner, a partial unique index (SQLite)",
        "chat_core/store/sqlite_schema.py",
        '"CREATE UNIQUE INDEX idx_chat_session_one_unused ON chat_session(owner)',
        '"CREATE INDEX idx_chat_session_one_unused ON chat_session(owner)',
        ("tests/test_store.py::test_database_forbids_a_second_unused_session",),
    ),
    M(
        "Storage: one unused chat per owner, a partial unique index (PostgreSQL)",
        "chat_core/store/postgres_schema.py",
        "CREATE UNIQUE INDEX chat_session_one_unused ON chat_session (owner)",
        "CREATE INDEX chat_session_one_unused ON chat_session (owner)",
        ("tests/test_store.py::test_database_forbids_a_second_unused_session",),
    ),
    M(
        "Storage: message ids are never handed out twice (SQLite)",
        "chat_core/store/sqlite_schema.py",
        "            id INTEGER PRIMARY KEY AUTOINCREMENT,\n            session_id TEXT",
        "            id INTEGER PRIMARY KEY,\n            session_id TEXT",
        ("tests/test_store.py::test_message_ids_are_never_handed_out_twice",),
    ),
    M(
        "Moving history between databases is idempotent: a second run copies nothing",
        "chat_core/store/copy.py",
        "            there = present.get(session.id)",
        "            there = None",
        ("tests/test_copy.py::test_second_run_copies_nothing_and_a_third_only_what_is_new",),
    ),
    M(
        "Prepared statements are off, which transaction-mode poolers require",
        "chat_core/store/postgres.py",
        '"prepare_threshold": None',
        '"prepare_threshold": 5',
        ("tests/test_postgres_statements.py",),
    ),
    M(
        "Tree: editing a message starts a branch beside it, and the old one is kept",
        "chat_core/store/base.py",
        "            parent=original.parent_id,",
        "            parent=original.id,",
        ("tests/test_tree.py::test_editing_a_message_starts_a_branch_and_keeps_the_old_one",),
    ),
    # --- Users: chats of older versions ----------------------------------------------------
    M(
        "Nothing moves when the older key is local (the single-user chats stay)",
        "chat_core/identity.py",
        "    if not value or value == LOCAL_OWNER or len(value) > LEGACY_MAX_CHARS:",
        "    if not value or len(value) > LEGACY_MAX_CHARS:",
        (IDENTITY,),
    ),
    M(
        "Nothing moves when the older key was longer than 320 characters (older versions "
        "cut it, so it may hold several people's chats)",
        "chat_core/identity.py",
        "    if not value or value == LOCAL_OWNER or len(value) > LEGACY_MAX_CHARS:",
        "    if not value or value == LOCAL_OWNER:",
        (IDENTITY,),
    ),
    # --- Other OpenAI-compatible servers ---------------------------------------------------
    M(
        "On a generic server requests carry no Ark-only parameter",
        "chat_core/ark/params.py",
        '        if value is None or (provider != "ark" and name in ARK_ONLY):',
        "        if value is None:",
        ("tests/test_provider.py",),
    ),
    M(
        "On a generic server requests carry no JSON null",
        "chat_core/ark/params.py",
        "    values: dict[str, Any] = dict.fromkeys(names, NOT_GIVEN)",
        "    values: dict[str, Any] = dict.fromkeys(names)",
        ("tests/test_provider.py",),
    ),
    M(
        "Context API caching is never offered on a generic server: a chat set to it is "
        "refused before anything is sent, naming the server's limit",
        "chat_core/provider.py",
        '        raise ModeUnavailableError("server_has_no_context_api")',
        "        pass",
        ("tests/test_provider.py",),
    ),
    M(
        "A 404 is model not found only when the body says so; any other names the path",
        "chat_core/ark/errors_map.py",
        "    if code.startswith(MODEL_NOT_FOUND_PREFIX) or _message_names_model(exc):",
        "    if True:",
        ("tests/test_provider.py",),
    ),
    # --- Models, prices, images and web search ---------------------------------------------
    M(
        "Any version of a listed model finds its entry",
        "chat_core/catalogue.py",
        "by_family.get(version_free(model_id.strip()))",
        "None",
        ("tests/test_catalogue.py",),
    ),
    M(
        "An input past the last tier has no price",
        "chat_core/catalogue.py",
        "            if tier.input_up_to is None or input_tokens <= tier.input_up_to:",
        "            if True:",
        ("tests/test_ark_pricing.py", "tests/test_catalogue.py"),
    ),
    M(
        "A cost below four decimals shows as < ¥0.0001 (never ¥0.0000)",
        "chat_core/pricing.py",
        "    return 0 < amount < SMALLEST_SHOWN",
        "    return False",
        ("tests/test_app_costs.py",),
    ),
    M(
        "A message with images for a text-only model is refused before anything is written",
        "chat_core/capabilities.py",
        '    if count and options(model, alias, "off").images_reason is not None:',
        "    if False:",
        ("tests/test_model_rules.py",),
    ),
    M(
        "A turn with web search is not cached",
        "chat_core/ark/responses_mode.py",
        '            caching={"type": "disabled" if request.web_search else "enabled"},',
        '            caching={"type": "enabled"},',
        ("tests/test_ark_media.py",),
    ),
    M(
        "Cited pages are shown as links, http and https only",
        "chat_core/sources.py",
        '    if not url.lower().startswith(("https://", "http://")) or',
        "    if not url or",
        ("tests/test_transfer_media.py", "tests/test_ark_media.py"),
    ),
    M(
        "Each image is scaled to at most 2048 pixels on its longest side and 4.2 megapixels",
        "chat_core/images.py",
        "    scale = min(1.0, MAX_SIDE / max(width, height), (MAX_PIXELS / (width",
        "    scale = 1.0 or min(1.0, MAX_SIDE / max(width, height), (MAX_PIXELS / (width",
        ("tests/test_images.py",),
    ),
    # --- More of Chatting and Storage ------------------------------------------------------
    M(
        "A process runs at most 32 replies at once",
        "chat_core/runner.py",
        "        if len(running) >= self.max_running:",
        "        if False:",
        ("tests/test_runner.py::test_limits_per_user_and_per_process",),
    ),
    M(
        "A copied chat starts a fresh model cache",
        "chat_core/store/copy.py",
        "COPIED_SESSION_COLUMNS = tuple(c for c in SESSION_COLUMNS if c not in CACHE_KEYS)",
        "COPIED_SESSION_COLUMNS = tuple(SESSION_COLUMNS)",
        ("tests/test_copy.py",),
    ),
    M(
        "PostgreSQL: every connection is checked as it is taken from the pool, so after a "
        "server restart the next action reconnects",
        "chat_core/store/postgres.py",
        "                check=self._check,",
        "                check=None,",
        ("tests/test_postgres_faults.py",),
    ),
    M(
        "PostgreSQL: errors never show the password",
        "chat_core/store/postgres.py",
        '    rest = url.partition("://")[2].rpartition("@")[2]',
        '    rest = url.partition("://")[2]',
        ("tests/test_postgres_faults.py", "tests/test_database_errors.py"),
    ),
    M(
        "Every fragment has its own error guard (a widget in it reruns it alone)",
        "ui/chat_view.py",
        "    with feedback.guard(visit.lang):\n        _chat(visit, session_id)",
        "    if True:\n        _chat(visit, session_id)",
        ("tests/test_boundaries.py::test_every_fragment_runs_inside_its_own_error_guard",),
    ),
    # --- Usage, temporary chats and share links --------------------------------------------
    M(
        "Share links: Only me opens for the owner alone",
        "chat_core/store/shares.py",
        '    return link.audience == "signed_in" and viewer not in (None, LOCAL_OWNER)',
        "    return viewer not in (None, LOCAL_OWNER)",
        (SHARES,),
    ),
    M(
        "Share links: an app without a login has no signed-in users, so only its owner "
        "opens a link for signed-in users",
        "chat_core/store/shares.py",
        '    return link.audience == "signed_in" and viewer not in (None, LOCAL_OWNER)',
        '    return link.audience == "signed_in" and viewer is not None',
        (SHARES,),
    ),
    M(
        "Share links: a revoked link says it was revoked",
        "chat_core/store/shares.py",
        "        if link.revoked:  # said before asking to sign in",
        "        if False:  # said before asking to sign in",
        (SHARES,),
    ),
    M(
        "Share links: the link holds a random 192-bit token",
        "chat_core/store/shares.py",
        "TOKEN_BYTES = 24",
        "TOKEN_BYTES = 12",
        (SHARES,),
    ),
    M(
        "Temporary chats reply statelessly (the caching modes keep state at the model "
        "service, whose ids would have to be stored)",
        "chat_core/temporary.py",
        '            cache_mode="off",',
        '            cache_mode="responses",',
        ("tests/test_temporary.py",),
    ),
    M(
        "Usage: nobody is an admin without a login or a proxy identity",
        "chat_core/usage.py",
        "    if login is None or login.owner != owner:",
        "    if login is None:",
        ("tests/test_usage.py", "tests/test_app_usage.py::test_a_local_visitor_is_never_an_admin"),
    ),
    M(
        "Usage: an admin's email counts only when the login marks it verified",
        "chat_core/usage.py",
        "email, issuer, subject = verified_email(claims)",
        'email, issuer, subject = claims.get("email")',
        ("tests/test_usage.py",),
    ),
    M(
        "Storage: a reply is never written under a message another process is deleting",
        "chat_core/store/postgres.py",
        '    ROW_LOCK = " FOR NO KEY UPDATE"',
        '    ROW_LOCK = ""',
        ("tests/test_store_race.py",),
    ),
    M(
        "Storage: a deadlock with another transaction is reported as a busy database",
        "chat_core/store/postgres.py",
        "pg_errors.QueryCanceled | pg_errors.DeadlockDetected",
        "pg_errors.QueryCanceled",
        ("tests/test_store_race.py::test_a_deadlock_is_reported_as_a_busy_database",),
    ),
    M(
        "Other servers: one visitor's wrong key does not hide the Responses mode from others",
        "chat_core/ark/probe.py",
        "_REFUSED_FOR_NOW = frozenset({401, 403, 408, 429})",
        "_REFUSED_FOR_NOW = frozenset()",
        (
            "tests/test_provider.py::test_a_probe_refused_for_a_wrong_key_is_asked_again_with_the_right_one",
        ),
    ),
    M(
        "Usage: switching between days and weeks redraws from what the page read",
        "ui/usage_view.py",
        "    if key in read:",
        "    if False:",
        ("tests/test_app_usage.py",),
    ),
    M(
        "Nothing is lost: a reply goes on when a browser asks Streamlit to clear its caches",
        "ui/runtime.py",
        "    return _shared(_runners, _key(settings), lambda: ReplyRunner(shared_store(settings)))",
        "    return _cached_runner(settings)\n\n\n"
        "@st.cache_resource(on_release=ReplyRunner.shutdown)\n"
        "def _cached_runner(settings):\n"
        "    return ReplyRunner(shared_store(settings))",
        ("tests/test_runner.py::test_a_reply_goes_on_when_streamlit_is_asked_to_clear_its_caches",),
    ),
]


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = _arguments(argv)
    chosen = [
        m
        for m in MUTATIONS
        if (args.only is None or args.only.lower() in (m.promise + m.path).lower())
        and not (args.no_browser and m.browser)
    ]
    if args.list:
        for number, mutation in enumerate(chosen, 1):
            print(f"{number:2}. {mutation.path}: {mutation.promise}")
        return 0
    if not args.here:
        return _in_a_clone(sys.argv[1:] if argv is None else argv)
    if _dirty(ROOT):
        sys.exit(f"{ROOT} has uncommitted changes: commit or drop them, or run without --here")
    _clear_bytecode(ROOT)
    env = _environment()
    _check_imports(env)
    tests = sorted({test for mutation in chosen for test in mutation.tests})
    print(f"baseline: {len(tests)} test targets on the unmutated tree ...", flush=True)
    if _pytest(tests, env, stop_at_first=False) != 0:
        sys.exit("the tests fail without any mutation: fix them first")
    results = []
    for number, mutation in enumerate(chosen, 1):
        started = time.monotonic()
        outcome = _run(mutation, env)
        seconds = time.monotonic() - started
        results.append((mutation, outcome))
        print(
            f"{number:2}/{len(chosen)} {outcome:8} {seconds:5.0f} s  {mutation.path}: "
            f"{mutation.promise}",
            flush=True,
        )
    return _report(results)


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="mutations whose promise or path contains WORD")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument("--no-browser", action="store_true", help="skip browser-tested ones")
    parser.add_argument(
        "--here", action="store_true", help="mutate this tree (by default: a fresh clone)"
    )
    return parser.parse_args(argv)


def _in_a_clone(argv: list[str]) -> int:
    """Run in a clone of ROOT's last commit, so nobody's files (or edits) are touched."""
    folder = Path(tempfile.mkdtemp(prefix="mutants-"))
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"mutating a clone of {commit[:72]} in {folder}", flush=True)
        script = folder / "bench" / "mutations.py"
        child = subprocess.Popen([sys.executable, str(script), *argv, "--here"], cwd=folder)
        try:
            return child.wait()
        finally:
            if child.poll() is None:  # stopped early: the child puts its file back first
                child.terminate()
                child.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C, so a mutated file is put back and a clone removed."""
    raise SystemExit(128 + signum)


def _run(mutation: Mutation, env: dict[str, str]) -> str:
    path = ROOT / mutation.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.before) != 1:
        return "stale"
    path.write_text(original.replace(mutation.before, mutation.after), encoding="utf-8")
    try:
        code = _pytest(list(mutation.tests), env, stop_at_first=True)
    finally:
        path.write_text(original, encoding="utf-8")
    return OUTCOMES.get(code, f"error {code}")


def _pytest(tests: list[str], env: dict[str, str], *, stop_at_first: bool) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    if stop_at_first:
        command.insert(4, "-x")
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_SECONDS
        )
    except subprocess.TimeoutExpired:
        return 1  # a mutation that hangs the tests is caught by their timeout
    if done.returncode not in (0, 1):
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
    elif done.returncode == 1 and not stop_at_first:
        print(done.stdout[-5000:])
    return done.returncode


def _report(results: list[tuple[Mutation, str]]) -> int:
    counts = {outcome: sum(1 for _, o in results if o == outcome) for _, outcome in results}
    print("\n" + ", ".join(f"{outcome}: {n}" for outcome, n in sorted(counts.items())))
    bad = [(m, o) for m, o in results if o != "caught"]
    for mutation, outcome in bad:
        print(
            f"  {outcome}: {mutation.path}: {mutation.promise}\n"
            f"    {mutation.before!r} -> {mutation.after!r}"
        )
    return 1 if bad else 0


def _dirty(root: Path) -> bool:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(status.stdout.strip())


def _clear_bytecode(root: Path) -> None:
    """A mutation may keep a file's size and mtime second, so cached bytecode could
    hide it: none is read or written while mutating."""
    for folder in root.rglob("__pycache__"):
        shutil.rmtree(folder, ignore_errors=True)


def _environment() -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _check_imports(env: dict[str, str]) -> None:
    """The tests must import this tree's code, not an installed copy of another tree."""
    probe = (
        "import ark_emulator, chat_core, ui; print(chat_core.__file__); "
        "print(ui.__file__); print(ark_emulator.__file__)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print("importing", found[0])
    outside = [path for path in found if not Path(path).resolve().is_relative_to(ROOT)]
    if outside:
        sys.exit(f"these modules come from outside {ROOT}: {outside}")


if __name__ == "__main__":
    sys.exit(main())
