"""AppTest: the page's logic against a real SQLite file and the loopback emulator."""

import json
import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import streamlit as st
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from chat_core import chat
from chat_core.ark import make_client
from chat_core.config import load_settings
from chat_core.errors import ConfigError
from chat_core.markdown import escape
from chat_core.runner import ReplyRunner
from chat_core.store import connect
from locales import describe
from tests.conftest import EMULATOR_KEY
from tests.databases import run_sql
from tests.test_database_errors import locked_by_another_process, read_only
from ui import runtime

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
KEY = EMULATOR_KEY


@pytest.fixture
def env(monkeypatch, emu, db_path):
    emu.clear_faults()
    for name, value in {
        "ARK_API_KEY": KEY,
        "ARK_BASE_URL": emu.base_url,
        "ARK_MODEL": "ep-test",
        "ARK_MAX_RETRIES": "0",
        "CHAT_DB": str(db_path),
        "NO_PROXY": "127.0.0.1",
        "ARK_THINKING": "disabled",
        "CHAT_TITLES": "off",  # first-message titles; generated ones are tested apart
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("ARK_CACHE", "CHAT_LANG"):
        monkeypatch.delenv(name, raising=False)
    return db_path


OPENED: list[AppTest] = []


@pytest.fixture(autouse=True)
def close_clients():
    """An AppTest session never ends, so close the Ark clients it kept (a real
    session's client is closed when the browser session is dropped), and the store and
    runner the app keeps for the process."""
    yield
    while OPENED:
        at = OPENED.pop()
        cached = at.session_state.get("_ark_client")
        if cached:
            cached[1].close()
    runtime.release_shared()
    st.cache_resource.clear()


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    OPENED.append(at)
    at.user = {}  # no login and no proxy header: the single-user owner "local"
    for key, value in query.items():
        at.query_params[key] = value
    return at


def param(at, key="session"):
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def texts(at):
    """(role, [texts]) per chat message: the user's text as typed, the answer's Markdown."""
    return [
        (m.name, [x.value for x in m.text] if m.name == "user" else [md.value for md in m.markdown])
        for m in at.chat_message
    ]


def last_action(at, name: str):
    """The action button `name` (retry, regenerate, edit…) of the newest message that
    has one: message actions are keyed by message id."""
    keyed = [b for b in at.button if b.key.startswith(f"{name}-")]
    return max(keyed, key=lambda b: int(b.key.rsplit("-", 1)[1]))


def labelled(widgets, label: str):
    """The one widget of `widgets` whose label is `label` (widgets without a key)."""
    (found,) = [widget for widget in widgets if widget.label == label]
    return found


def flags(db_path):
    return dict(run_sql(str(db_path), "SELECT id, is_used FROM chat_session"))


def test_smoke_opens_an_unused_session(env):
    at = app().run()
    assert not at.exception
    assert at.sidebar.button(key="new_chat").label == "New chat"
    assert flags(env) == {param(at): 0}
    assert len(at.chat_message) == 0


def test_round_trip_streams_and_stores_the_reply(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    assert not at.exception
    assert texts(at) == [("user", ["hello there"]), ("assistant", ["Echo: hello there"])]
    caption = at.chat_message[1].caption[0].value
    assert "in (0 cached)" in caption and " out" in caption
    assert flags(env) == {param(at): 1}
    assert at.sidebar.button(key=f"session-{param(at)}").label == "hello there"


def test_new_chat_reuses_the_unused_session_with_a_notice(env):
    at = app().run()
    first = param(at)
    at.sidebar.button(key="new_chat").click().run()
    assert param(at) == first
    assert [i.value for i in at.info] == ["Continue in the session you have not started yet"]
    at.chat_input(key="chat_input").set_value("first message").run()
    at.sidebar.button(key="new_chat").click().run()
    second = param(at)
    assert second != first and not at.info
    at.sidebar.button(key="new_chat").click().run()
    assert param(at) == second
    assert flags(env) == {first: 1, second: 0}


def test_new_chat_after_emptying_a_chat_returns_it_not_another_empty_chat(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("soon deleted").run()
    emptied = param(at)
    question = min(int(b.key.split("-")[1]) for b in at.button if b.key.startswith("remove-"))
    at.button(key=f"remove-{question}").click().run()
    at.button(key=f"remove_yes-{question}").click().run()
    assert texts(at) == []
    at.sidebar.button(key="new_chat").click().run()
    assert param(at) == emptied
    assert "Continue in the session you have not started yet" in [i.value for i in at.info]
    assert flags(env) == {emptied: 0}


@pytest.mark.parametrize("zone", ["Europe", "x" * 300, "../../etc/passwd"])
def test_a_time_zone_no_browser_sends_is_taken_for_utc(env, zone):
    chat_of(env, "local", "a question")
    at = app()
    at.context = {"timezone": zone}
    at.run()
    assert not at.exception
    assert "Today" in [c.value for c in at.sidebar.caption]


def test_reuse_notice_in_chinese(env):
    at = app()
    at.context = {"locale": "zh-CN"}
    at.run()
    at.sidebar.button(key="new_chat").click().run()
    assert [i.value for i in at.info] == ["请继续使用当前未开始的会话"]
    assert at.sidebar.button(key="new_chat").label == "新建会话"


def test_session_in_the_url_is_restored(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("remember me").run()
    sid = param(at)
    reopened = app(session=sid).run()
    assert param(reopened) == sid
    assert texts(reopened)[0] == ("user", ["remember me"])


@pytest.mark.parametrize("bad", ["nope", "1 OR 1=1", "../../etc/passwd", "x" * 10_000, "%00"])
def test_unknown_or_malformed_session_falls_back_with_a_notice(env, bad):
    at = app(session=bad).run()
    assert not at.exception
    assert param(at) != bad and param(at) in flags(env)
    assert any("does not exist" in i.value for i in at.info)


def test_foreign_session_is_never_shown(env):
    with connect(env) as store:
        theirs, _ = store.new_session("mallory")
        store.start_turn(theirs, "mallory's secret")
    at = app(session=theirs.id).run()
    assert param(at) != theirs.id
    assert all("secret" not in str(m.markdown) for m in at.chat_message)
    assert f"session-{theirs.id}" not in [b.key for b in at.sidebar.button]
    assert any("does not exist" in i.value for i in at.info)


def test_error_shows_a_message_and_retry_recovers(env, emu):
    at = app().run()
    emu.fail_next("500")
    at.chat_input(key="chat_input").set_value("please answer").run()
    assert not at.exception
    assert texts(at)[0] == ("user", ["please answer"])
    assert at.chat_message[1].error[0].value.startswith("Reply failed")
    last_action(at, "retry").click().run()
    assert texts(at) == [("user", ["please answer"]), ("assistant", ["Echo: please answer"])]
    assert not at.error


def test_error_partial_text_is_kept(env, emu):
    at = app().run()
    emu.fail_next("stream_error", after_tokens=2)
    at.chat_input(key="chat_input").set_value("alpha beta gamma").run()
    assert texts(at)[1] == ("assistant", ["Echo: alpha"])
    assert at.chat_message[1].error


def test_no_key_first_run_still_browses_history(env, monkeypatch):
    with connect(env) as store:
        old, _ = store.new_session("local")
        store.start_turn(old, "an older question")
    monkeypatch.delenv("ARK_API_KEY")
    at = app(session=old.id).run()
    assert not at.exception
    assert texts(at)[0] == ("user", ["an older question"])
    assert at.chat_input(key="chat_input").disabled
    assert any("ARK_API_KEY" in i.value for i in at.sidebar.info)
    at.sidebar.text_input(key="api_key_input").input(KEY).run()
    assert not at.chat_input(key="chat_input").disabled
    at.chat_input(key="chat_input").set_value("now with a key").run()
    assert texts(at)[-1] == ("assistant", ["Echo: now with a key"])
    with connect(env) as store:
        dump = "\n".join(str(row) for row in run_sql(str(env), "SELECT * FROM chat_session"))
        dump += "\n".join(str(row) for row in run_sql(str(env), "SELECT * FROM chat_message"))
    assert KEY not in dump


def test_regenerate_and_edit_last(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("first try").run()
    last_action(at, "regenerate").click().run()
    assert texts(at) == [("user", ["first try"]), ("assistant", ["Echo: first try"])]
    last_action(at, "edit").click().run()
    at.text_area(key="edit_text").input("second try")
    at.button(key="FormSubmitter:edit_form-Save and resend").click().run()
    assert texts(at) == [("user", ["second try"]), ("assistant", ["Echo: second try"])]


NOW = "2026-01-01T08:00:00.000000+00:00"


def test_a_system_prompt_longer_than_the_field_takes_survives_a_save(env, emu):
    long_prompt = "Be precise. " * 2_500  # 30,000 characters, as an import may bring
    with connect(env) as store:
        chat = store.import_session(
            "local",
            "Long prompt",
            [{"role": "user", "content": "hi", "status": "complete", "created_at": NOW}],
            settings={"system_prompt": long_prompt},
        )
    at = app(session=chat.id).run()
    labelled(at.slider, "Temperature").set_value(0.4)
    at.button(key=f"settings-save-{chat.id}").click().run()
    assert not at.exception and any("Settings saved" in i.value for i in at.info)
    with connect(env) as store:
        kept = store.get_session("local", chat.id)
    assert (kept.system_prompt, kept.temperature) == (long_prompt, 0.4)


def test_settings_are_kept_on_the_draft_session(env, emu):
    at = app().run()
    sid = param(at)
    labelled(at.selectbox, "Model or endpoint id").set_value("doubao-seed-1-8-251228").run()
    labelled(at.text_area, "System prompt").input("Answer briefly.")
    at.button(key=f"settings-save-{sid}").click().run()
    assert any("Settings saved" in i.value for i in at.info)
    at.chat_input(key="chat_input").set_value("with settings").run()
    (sent,) = [
        r.body
        for r in emu.requests
        if r.body and r.body.get("messages", [{}])[-1].get("content") == "with settings"
    ][-1:]
    assert sent["model"] == "doubao-seed-1-8-251228"
    assert sent["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert flags(env)[sid] == 1


def open_menu(at, sid):
    """Open a chat's ⋮ menu, whose actions are drawn only while it is open."""
    at.session_state[f"menu-{sid}"] = True
    return at.run()


def test_rename_pin_and_delete(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("to be renamed").run()
    sid = param(at)
    open_menu(at, sid)
    labelled(at.sidebar.text_input, "Rename").input("Renamed chat")
    at.sidebar.button(key=f"FormSubmitter:rename-{sid}-Save").click().run()
    assert at.sidebar.button(key=f"session-{sid}").label == "Renamed chat"
    assert any("renamed" in i.value for i in at.info)
    open_menu(at, sid).sidebar.button(key=f"pin-{sid}").click().run()
    assert at.sidebar.button(key=f"session-{sid}").label == ":material/keep: Renamed chat"
    assert at.sidebar.caption[0].value == "Pinned"  # the first group heading
    open_menu(at, sid).sidebar.button(key=f"delete-{sid}").click().run()
    assert "Delete this chat" in open_menu(at, sid).sidebar.warning[0].value
    at.sidebar.button(key=f"delete_no-{sid}").click().run()  # Cancel keeps it
    assert sid in flags(env)
    open_menu(at, sid).sidebar.button(key=f"delete-{sid}").click().run()
    open_menu(at, sid).sidebar.button(key=f"delete_yes-{sid}").click().run()
    assert param(at) != sid and sid not in flags(env)
    assert any("deleted" in i.value for i in at.info)


def test_a_failed_delete_never_says_deleted(env, monkeypatch):
    from chat_core.errors import DatabaseLockedError
    from chat_core.store import Store

    at = app().run()
    at.chat_input(key="chat_input").set_value("keep me").run()
    sid = param(at)

    def busy(self, owner, session_id):
        raise DatabaseLockedError("database_busy")

    monkeypatch.setattr(Store, "delete_session", busy)  # injected fault
    open_menu(at, sid).sidebar.button(key=f"delete-{sid}").click().run()
    open_menu(at, sid).sidebar.button(key=f"delete_yes-{sid}").click().run()
    assert not any("deleted" in i.value for i in at.info)
    assert any("busy" in e.value for e in at.error)
    assert param(at) == sid and sid in flags(env)


MARKDOWN_TITLE = "**bold** [here](https://evil.example) ![i](https://evil.example/i.png) :red[x]"
PUNCTUATION = r"[!-/:-@\[-`{-~]"  # ASCII punctuation: what a backslash escapes in Markdown


def as_shown(label: str) -> str:
    """What a label made of text and backslash escapes shows, after checking that no
    Markdown mark in it is left unescaped."""
    label = label.replace("\u2060", "")  # word joiners show as nothing
    assert not re.search(r"[*_\[\]()!<>`:&]", re.sub(r"\\" + PUNCTUATION, "", label)), label
    return re.sub(r"\\(" + PUNCTUATION + ")", r"\1", label)


def test_titles_in_the_sidebar_show_as_typed(env):
    chat = chat_of(env, "local", "a question")
    with connect(env) as store:
        store.rename("local", chat.id, MARKDOWN_TITLE)
    at = app().run()
    assert as_shown(at.sidebar.button(key=f"session-{chat.id}").label) == MARKDOWN_TITLE
    at.sidebar.text_input(key="search").input("question").run()
    (hit,) = [b for b in at.sidebar.button if b.key.startswith(f"hit-{chat.id}-")]
    assert as_shown(hit.label) == MARKDOWN_TITLE


def test_search_finds_chats_with_snippets(env):
    with connect(env) as store:
        for title, text in (("Trip planning", "明天北京的天气怎么样？"), ("Sorting", "a list")):
            session, _ = store.new_session("local")
            store.start_turn(session, title)
            store.start_turn(session, text)
    at = app().run()
    at.sidebar.text_input(key="search").input("天气").run()
    hits = [b.label for b in at.sidebar.button if b.key.startswith("hit-")]
    assert hits == ["Trip planning"]
    # The matching message is shown under the chat's title, as plain text with the
    # match marked.
    assert "明天北京的:orange-background[天气]怎么样？" in [c.value for c in at.sidebar.caption]
    at.sidebar.text_input(key="search").input('sort" AND (NEAR *').run()
    assert not at.exception
    assert any("No chat matches" in c.value for c in at.sidebar.caption)


def test_logged_in_users_see_only_their_own_sessions(env):
    with connect(env) as store:
        mine, _ = store.new_session("alice@example.com")
        store.start_turn(mine, "alice's chat")
        theirs, _ = store.new_session("bob@example.com")
        store.start_turn(theirs, "bob's chat")
    at = app()
    at.user = {"email": "alice@example.com"}
    at.run()
    keys = [b.key for b in at.sidebar.button]
    assert f"session-{mine.id}" in keys and f"session-{theirs.id}" not in keys
    at.query_params["session"] = theirs.id
    at.run()
    assert param(at) != theirs.id


def test_login_is_required_when_auth_is_configured(env):
    at = app()
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x",
        "client_id": "x",
        "client_secret": "x",
        "server_metadata_url": "https://example.invalid/.well-known",
    }
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert at.button(key="log_in")
    assert not at.chat_input
    assert not env.exists()  # nothing was opened or written before the login


def test_language_switch(env):
    at = app().run()
    at.sidebar.selectbox(key="lang_choice").set_value("zh").run()
    assert at.sidebar.button(key="new_chat").label == "新建会话"


def test_interrupted_reply_is_marked_and_offers_regenerate(env):
    with connect(env) as store:
        session, _ = store.new_session("local")
        store.start_turn(session, "cut me off")
        reply = store.begin_reply(session)
        store.save_reply(session, reply.id, content="Echo: cut", status="interrupted")
    at = app(session=session.id).run()
    assert texts(at)[1] == ("assistant", ["Echo: cut"])
    assert at.chat_message[1].warning[0].value == "Reply interrupted"
    last_action(at, "regenerate").click().run()
    assert texts(at)[1] == ("assistant", ["Echo: cut me off"])


def test_model_output_html_is_not_rendered_as_html(env, emu):
    at = app().run()
    for turn in ("first", "second"):
        at.chat_input(key="chat_input").set_value(f"<script>alert(1)</script> **{turn}**").run()
        assert not at.exception
        assert texts(at)[-1] == ("assistant", [f"Echo: <script>alert(1)</script> **{turn}**"])
        shown = [*at.markdown, *at.sidebar.markdown]
        assert shown and not [block.value for block in shown if block.proto.allow_html]


def test_empty_and_huge_messages_get_a_clear_message(env):
    at = app().run()
    at.chat_input(key="chat_input").set_value("x" * 200_000).run()
    assert not at.exception
    assert "too long" in at.error[0].value
    assert len(at.chat_message) == 0
    assert flags(env) == {param(at): 0}


def stored_replies(db_path):
    with connect(db_path) as store:
        (session,) = [s for s in store.list_sessions("local") if s.is_used]
        return [m for m in store.get_messages(session) if m.role == "assistant"]


def test_cost_per_reply_and_per_chat_for_a_priced_model(env, monkeypatch):
    from chat_core.chat import message_cost
    from chat_core.pricing import load_prices

    monkeypatch.setenv("ARK_MODEL", "doubao-seed-1-6-250615")
    at = app().run()
    at.chat_input(key="chat_input").set_value("price me #tokens=3000").run()
    at.chat_input(key="chat_input").set_value("again #tokens=2000").run()
    costs = [message_cost(m, load_prices()) for m in stored_replies(env)]
    assert all(cost >= Decimal("0.01") for cost in costs)  # shown to four places
    for message, cost in zip((at.chat_message[1], at.chat_message[3]), costs, strict=True):
        assert f" · ¥{cost:.4f} · " in message.caption[0].value
    assert any(c.value.endswith(f" · This chat: ¥{sum(costs):.4f}") for c in at.caption)


def test_a_model_without_a_price_shows_its_tokens_and_no_cost(env):
    at = app().run()  # ARK_MODEL=ep-test: an endpoint id, in no price table
    at.chat_input(key="chat_input").set_value("price me").run()
    at.chat_input(key="chat_input").set_value("again").run()
    assert [m.prompt_tokens > 0 for m in stored_replies(env)] == [True, True]
    for message in (at.chat_message[1], at.chat_message[3]):
        caption = message.caption[0].value
        assert " in (0 cached)" in caption and "¥" not in caption
    assert not [c.value for c in at.caption if "¥" in c.value]


def test_an_error_is_shown_in_the_language_the_page_is_drawn_in(env, emu):
    at = app()
    at.context = {"locale": "zh-CN"}
    at.run()
    emu.fail_next("429")
    at.chat_input(key="chat_input").set_value("你好").run()
    assert at.chat_message[1].error[0].value.startswith("回复失败：请求过于频繁")
    ((text, code, params),) = run_sql(
        str(env),
        "SELECT error, error_code, error_params FROM chat_message WHERE role = 'assistant'",
    )
    assert (text, code) == (None, "rate_limited")  # stored as a code, never as a sentence
    request_id = json.loads(params)["request_id"]
    at.sidebar.selectbox(key="lang_choice").set_value("en").run()
    shown = at.chat_message[1].error[0].value
    assert shown.startswith("Reply failed: The model service is receiving too many requests")
    assert shown.endswith(f"(request id: {request_id})")
    assert at.sidebar.button(key="new_chat").label == "New chat"


def test_an_old_error_text_without_a_code_is_shown_literally(env):
    with connect(env) as store:
        session, _ = store.new_session("local")
        store.start_turn(session, "hello")
        reply = store.begin_reply(session)
        store.save_reply(session, reply.id, content="", status="error")
    old = "Rate limited (429). <b>**odd**</b>"
    run_sql(str(env), "UPDATE chat_message SET error = ? WHERE id = ?", (old, reply.id))
    at = app(session=session.id).run()
    assert not at.exception
    assert at.chat_message[1].error[0].value == "Reply failed: " + escape(old)


def test_a_file_that_is_not_a_database_gets_a_clear_message(env):
    env.write_text("not a database\n" * 100)
    at = app().run()
    assert not at.exception
    assert "not a valid chat database" in at.error[0].value
    assert env.read_text().startswith("not a database")


def test_a_database_path_that_cannot_be_created(env, monkeypatch, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("CHAT_DB", str(blocker / "chat.db"))
    at = app().run()
    assert not at.exception
    assert "cannot be created or opened" in at.error[0].value


def test_a_bad_setting_gets_a_clear_message(env, monkeypatch):
    monkeypatch.setenv("ARK_CACHE", "sometimes")
    at = app().run()
    assert not at.exception
    assert "ARK\\_CACHE must be one of" in at.error[0].value  # parameters are escaped


def test_a_message_at_the_limit_and_odd_unicode_go_through(env):
    at = app().run()
    # "#tokens=3" keeps the emulator's reply short; the message itself is 100,000 chars.
    text = "界" * 99_986 + " #tokens=3 \u200f\u200b😀"
    assert len(text) == 100_000
    at.chat_input(key="chat_input").set_value(text).run()
    assert not at.exception
    assert texts(at) == [("user", [text]), ("assistant", ["w1 w2 w3"])]
    # A browser cannot send a lone surrogate (the store's own tests cover those).
    at.chat_input(key="chat_input").set_value("nul \x00 end").run()
    assert texts(at)[-2] == ("user", ["nul  end"])


def test_a_failure_the_store_cannot_record_is_still_shown(env, monkeypatch):
    from chat_core.errors import DatabaseLockedError
    from chat_core.store import Store

    def locked(self, session, model=None, **where):
        raise DatabaseLockedError("database_busy")

    at = app().run()
    original = Store.begin_reply
    monkeypatch.setattr(Store, "begin_reply", locked)  # injected fault
    at.chat_input(key="chat_input").set_value("will the reply be saved?").run()
    assert not at.exception
    # The reply's bubble says why it is missing; nothing of it is stored.
    assert texts(at) == [("user", ["will the reply be saved?"]), ("assistant", [])]
    assert "busy" in at.chat_message[1].error[0].value
    monkeypatch.setattr(Store, "begin_reply", original)
    last_action(at, "retry").click().run()
    assert texts(at)[1] == ("assistant", ["Echo: will the reply be saved?"])


def cloud_notices(at):
    return [c.value for c in at.sidebar.caption if "Community Cloud" in c.value]


def test_cloud_notice_only_when_history_is_a_sqlite_file(env, monkeypatch, postgres_url):
    monkeypatch.setenv("CHAT_COMMUNITY_CLOUD", "true")
    at = app().run()
    assert not at.exception
    assert len(cloud_notices(at)) == 1
    monkeypatch.setenv("CHAT_DB", postgres_url)
    at = app().run()
    assert not at.exception
    assert cloud_notices(at) == []


def test_a_first_version_database_opens_by_its_hyphenated_ids(env):
    from tests.test_first_version import write_first_version_database

    write_first_version_database(env)
    at = app(session="ctx-20250120174458-6c94p").run()
    assert not at.exception
    assert param(at) == "ctx-20250120174458-6c94p"
    assert texts(at) == [("user", ["明天北京的天气怎么样？"]), ("assistant", ["晴，最高 5 度。"])]
    sidebar_labels = [b.label for b in at.sidebar.button]
    assert any("Plan a trip to Kyoto" in label for label in sidebar_labels)


# --- owners: logins, proxies and the keys of older versions ------------------------------

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x",
    "client_id": "x",
    "client_secret": "x",
    "server_metadata_url": "https://example.invalid/.well-known",
}
ISSUER = "https://accounts.example.com"


def signed_in(**claims) -> AppTest:
    """A page for a visitor whom `st.login` signed in with these claims."""
    at = app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, **claims}
    return at


@pytest.fixture
def trusted_headers():
    """Run the page as `server.trustedUserHeaders = {"X-Forwarded-Email": "email"}` does
    (AppTest runs it in this process, so the option is set here and restored after)."""
    from streamlit import config

    before = config.get_option("server.trustedUserHeaders")
    config.set_option("server.trustedUserHeaders", {"X-Forwarded-Email": "email"})
    yield
    config.set_option("server.trustedUserHeaders", before)


def chat_of(env, owner: str, text: str):
    with connect(env) as store:
        session, _ = store.new_session(owner)
        store.start_turn(session, text)
    return session


def owners(env) -> dict[str, int]:
    return dict(run_sql(str(env), "SELECT owner, count(*) FROM chat_session GROUP BY owner"))


def sidebar_chats(at) -> list[str]:
    """The titles of the started chats listed in the sidebar (an unused one is untitled)."""
    labels = [b.label for b in at.sidebar.button if b.key.startswith("session-")]
    return [label for label in labels if label != "New chat"]


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"email": "someone@example.com"},  # unverified, and no subject
        {"email": "someone@example.com", "email_verified": False, "name": "Someone"},
        {"sub": "42"},  # a subject without its issuer
    ],
)
def test_a_login_without_a_usable_identity_gets_a_message(env, claims):
    at = signed_in(**claims).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "You are signed in, but the sign-in did not say which account you are (no account "
        "id, and no email the provider has verified), so no chats can be shown. Log out and "
        "sign in with another account, or ask whoever runs this app."
    ]
    assert at.button(key="log_out_unidentified")
    assert not at.chat_input
    assert not env.exists()  # nothing was opened or written


def test_the_no_identity_message_in_chinese(env):
    at = signed_in(email="someone@example.com")
    at.context = {"locale": "zh-CN"}
    at.run()
    assert at.error[0].value.startswith("你已登录，但登录信息没有说明你是哪个账户")
    assert at.button(key="log_out_unidentified").label == "退出登录"


def test_a_missing_proxy_header_is_refused(env, trusted_headers):
    local = chat_of(env, "local", "the single-user secret")
    at = app()
    at.user = {"email": None}  # what Streamlit gives when the mapped header is missing
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "This app runs behind a sign-in proxy, but the request did not say who you are. "
        "Open it through the proxy."
    ]
    assert not at.chat_input and not at.chat_message and not sidebar_chats(at)
    at.query_params["session"] = local.id
    at.run()
    assert not at.chat_message and not sidebar_chats(at)
    assert owners(env) == {"local": 1}  # no chat was opened or created for anyone


def test_a_proxy_user_is_one_owner_whatever_the_case_and_gets_older_chats(env, trusted_headers):
    older = chat_of(env, "Alice@Example.com", "alice's older chat")  # as older versions kept it
    at = app()
    at.user = {"email": "Alice@Example.com"}
    at.run()
    assert "alice's older chat" in sidebar_chats(at)
    again = app()
    again.user = {"email": "alice@EXAMPLE.com"}
    again.run()
    assert "alice's older chat" in sidebar_chats(again)
    assert owners(env) == {"email:alice@example.com": 2}  # the older chat and one unused
    reopened = app(session=older.id)
    reopened.user = {"email": "ALICE@example.com"}
    reopened.run()
    assert param(reopened) == older.id


def test_a_proxy_user_named_local_never_sees_the_single_user_chats(env, trusted_headers):
    local = chat_of(env, "local", "the single-user secret")
    at = app(session=local.id)
    at.user = {"email": "local"}
    at.run()
    assert not at.exception
    assert param(at) != local.id and not sidebar_chats(at)
    assert owners(env) == {"local": 1, "email:local": 1}


def test_long_identities_sharing_a_prefix_never_share_chats(env, trusted_headers):
    first, second = "a" * 320 + "b" * 80, "a" * 320 + "c" * 80
    at = app()
    at.user = {"email": first}
    at.run()
    at.chat_input(key="chat_input").set_value("first's note").run()
    other = app()
    other.user = {"email": second}
    other.run()
    assert not other.exception
    assert sidebar_chats(other) == [] and not other.chat_message
    assert all(len(owner) < 100 for owner in owners(env))  # hashed, never cut


def test_a_login_is_keyed_by_its_subject_and_gets_its_verified_email_chats(env):
    older = chat_of(env, "alice@example.com", "kept under the email")
    at = signed_in(iss=ISSUER, sub="42", email="alice@example.com", email_verified=True).run()
    assert not at.exception
    assert "kept under the email" in sidebar_chats(at)
    assert owners(env) == {f"oidc:{ISSUER}#42": 2}
    # The email changes at the provider; the chats follow the account.
    moved = signed_in(iss=ISSUER, sub="42", email="alice@new.example", email_verified=True)
    moved.query_params["session"] = older.id
    moved.run()
    assert param(moved) == older.id


@pytest.mark.parametrize(
    ("verified", "header_mapped"),
    [(False, False), (True, True)],
    ids=["unverified", "a-header-over-the-login"],
)
def test_an_email_the_login_does_not_vouch_for_never_takes_its_older_chats(
    env, request, verified, header_mapped
):
    """An email the provider did not verify; or one a client sent in a mapped proxy
    header beside its own login (Streamlit lays header values over the login's claims)."""
    if header_mapped:
        request.getfixturevalue("trusted_headers")
    chat_of(env, "victim@example.com", "the victim's chat")
    at = signed_in(iss=ISSUER, sub="666", email="victim@example.com", email_verified=verified)
    at.run()
    assert not at.exception
    assert sidebar_chats(at) == []
    assert owners(env) == {"victim@example.com": 1, f"oidc:{ISSUER}#666": 1}


def test_a_long_chat_opens_on_its_latest_20_messages_and_shows_earlier_on_request(env):
    with connect(str(env)) as store:
        session = store.import_session(
            "local",
            "Long chat",
            [
                {
                    "role": "user" if n % 2 == 0 else "assistant",
                    "content": f"message {n}",
                    "status": "complete",
                    "created_at": f"2026-01-01T08:00:{n:02d}.000000+00:00",
                }
                for n in range(45)
            ],
        )
    at = app(session=session.id).run()
    assert [body for _, (body,) in texts(at)] == [f"message {n}" for n in range(25, 45)]
    at.button(key="show_earlier").click().run()
    assert not at.exception
    assert [body for _, (body,) in texts(at)] == [f"message {n}" for n in range(5, 45)]
    assert at.button(key="show_earlier").label == "Show earlier messages (5 more)"


def test_a_pasted_key_with_an_invisible_character_gets_a_clear_message(env, monkeypatch):
    monkeypatch.delenv("ARK_API_KEY")
    at = app().run()
    at.sidebar.text_input(key="api_key_input").input(KEY + "\u200b").run()
    at.chat_input(key="chat_input").set_value("hello").run()
    assert not at.exception
    shown = [e.value for e in at.error]
    assert any("Copy it again from the Ark console" in text for text in shown), shown
    assert not [text for text in shown if KEY in text]


def test_a_chat_whose_messages_were_all_deleted_takes_the_next_message(env):
    with connect(env) as store:
        session, _ = store.new_session("local")
        first = store.start_turn(session, "soon deleted")
        store.delete_message(session, first.id)
    at = app(session=session.id).run()
    assert texts(at) == []
    at.chat_input(key="chat_input").set_value("a fresh start").run()
    assert not at.exception
    assert param(at) == session.id  # not moved to another chat
    assert texts(at) == [("user", ["a fresh start"]), ("assistant", ["Echo: a fresh start"])]
    with connect(env) as store:
        assert [m.content for m in store.get_messages(store.get_session("local", session.id))] == [
            "a fresh start",
            "Echo: a fresh start",
        ]


def test_retry_on_an_unanswered_question_leaves_no_stale_retry(env):
    with connect(env) as store:
        session, _ = store.new_session("local")
        question = store.start_turn(session, "answer me")
    at = app(session=session.id).run()
    at.button(key=f"retry-{question.id}").click().run()
    assert not at.exception
    assert texts(at) == [("user", ["answer me"]), ("assistant", ["Echo: answer me"])]
    assert f"retry-{question.id}" not in [button.key for button in at.button]


def test_a_secrets_file_that_cannot_be_read_stops_the_app(env, monkeypatch, tmp_path):
    # taken as no file, a typo in it would turn the login off and open every chat
    broken = tmp_path / "secrets.toml"
    broken.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback\n')
    original = st.get_option("secrets.files")
    st.config.set_option("secrets.files", [str(broken)])
    try:
        monkeypatch.setattr(st, "secrets", Secrets())  # reads the broken file
        with pytest.raises(ConfigError) as refused:
            runtime.secrets()
        assert str(broken) in describe("en", refused.value)
        broken.unlink()  # no file at all: no secrets, as before
        monkeypatch.setattr(st, "secrets", Secrets())
        assert runtime.secrets() == {}
    finally:
        st.config.set_option("secrets.files", original)


def test_a_message_continues_the_version_its_tab_shows_whatever_another_tab_did(env, emu):
    first = app().run()
    first.chat_input(key="chat_input").set_value("one").run()
    sid = param(first)
    second = app(session=sid).run()
    last_action(second, "edit").click().run()
    second.text_area(key="edit_text").input("uno")
    second.button(key="FormSubmitter:edit_form-Save and resend").click().run()
    assert texts(second) == [("user", ["uno"]), ("assistant", ["Echo: uno"])]
    emu.clear_requests()
    first.chat_input(key="chat_input").set_value("two").run()  # this tab still shows "one"
    assert texts(first) == [
        ("user", ["one"]),
        ("assistant", ["Echo: one"]),
        ("user", ["two"]),
        ("assistant", ["Echo: two"]),
    ]
    (sent,) = [r.body for r in emu.requests if r.path.endswith("/chat/completions")]
    assert [m["content"] for m in sent["messages"] if m["role"] != "system"] == [
        "one",
        "Echo: one",
        "two",
    ]
    second.run()  # the other tab, drawn again, shows the version sent to last
    assert texts(second)[-2:] == [("user", ["two"]), ("assistant", ["Echo: two"])]


def test_a_database_that_cannot_be_written_still_shows_the_chats(env, monkeypatch):
    with connect(env) as store:  # every chat used: opening the page would make one
        for text in ("first kept", "latest kept"):
            session, _ = store.new_session("local")
            store.start_turn(session, text)
    monkeypatch.setenv("CHAT_BUSY_TIMEOUT", "0.5")
    with locked_by_another_process(env):
        at = app().run()
        assert not at.exception
        assert [e.value for e in at.error if "busy" in e.value]
        assert texts(at) == [("user", ["latest kept"])]
        assert param(at) == session.id
        assert "first kept" in " ".join(b.label for b in at.sidebar.button)
    with read_only(env):
        runtime.release_shared()  # a process starting on a read-only file
        st.cache_resource.clear()
        at = app().run()
        assert not at.exception
        assert [e.value for e in at.error if "read-only" in e.value]
        assert texts(at) == [("user", ["latest kept"])]


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "42", "name": "bad\ud800name"},
        {"sub": "42", "email": "a\ud800@x.com", "email_verified": True},
        {"sub": "42", "email": "a\x00@x.com", "email_verified": True},
    ],
    ids=["name with half a character", "email with half a character", "email with NUL"],
)
def test_a_login_whose_claims_hold_characters_no_text_can_store_still_chats(env, claims):
    at = signed_in(iss=ISSUER, **claims).run()
    assert not at.exception
    assert not at.error
    at.chat_input(key="chat_input").set_value("hi").run()
    assert texts(at) == [("user", ["hi"]), ("assistant", ["Echo: hi"])]
    assert owners(env) == {f"oidc:{ISSUER}#42": 1}


def test_a_link_for_signed_in_users_says_where_signing_in_leads(env):
    with connect(env) as store:
        session, _ = store.new_session(f"oidc:{ISSUER}#7")
        store.start_turn(session, "shared question")
        reply = store.begin_reply(session)
        store.save_reply(session, reply.id, content="shared answer", status="complete")
        link = store.create_share(f"oidc:{ISSUER}#7", session.id, "signed_in")
    at = app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    at.query_params["link"] = link.token
    at.switch_page("app_pages/shared.py").run()
    assert not at.exception
    assert [e.value for e in at.error if "signed-in users" in e.value]
    assert [b for b in at.button if b.key == "shared_log_in"]
    assert [c.value for c in at.caption if "open this link again afterwards" in c.value]


def test_a_reply_another_process_writes_is_followed_with_its_thinking(env, emu):
    at = app().run()
    with connect(env) as other:  # another app process: its own store and runner
        runner = ReplyRunner(other)
        settings = load_settings()
        session = other.get_session("local", param(at))
        emu.reasoning = True
        try:
            with httpx.Client(trust_env=False) as http:
                client = make_client(settings, http_client=http)
                live = runner.start(chat.send(other, settings, session, client, "think"), "local")
                live.begun()
                at.run()  # the page follows it to its end
                live.thread.join(30)
        finally:
            emu.reasoning = None
            runner.shutdown()
    assert not at.exception
    (thinking,) = at.chat_message[-1].expander
    assert thinking.label == "Thinking"
    assert [m.value for m in thinking.markdown] == ["Thinking about: think"]
    assert [m.value for m in at.chat_message[-1].markdown if m.value == "Echo: think"]
