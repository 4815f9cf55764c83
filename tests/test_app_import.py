"""AppTest: importing a chat through the sidebar's real upload widget (st.file_uploader,
which AppTest drives since Streamlit 1.67), against a real SQLite file."""

import json
import re

import pytest

from chat_core.store import connect
from tests.test_app import app, close_clients, env, param, texts  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("env")  # the app's settings, on `db_path`

# A title that would be a phishing link, a remote image, an auto-linked URL and e-mail
# address, a coloured directive and bold text, if it were rendered as Markdown.
TITLE = (
    "Log in [here](https://evil.example.com/login) ![x](https://evil.example.com/p.png) "
    "or https://evil.example.com, www.evil.example.com, me@evil.example.com :red[now] **!**"
)
ASCII_PUNCTUATION = r"[!-/:-@\[-`{-~]"


def export_file(title: str = TITLE) -> bytes:
    document = {
        "format": "ark-chat-session",
        "version": 1,
        "session": {"title": title, "temperature": 0.4},
        "messages": [
            {"role": "user", "content": "imported question"},
            {"role": "assistant", "content": "imported answer", "status": "complete"},
        ],
    }
    return json.dumps(document).encode()


def upload(at, data: bytes):
    uploader = at.sidebar.file_uploader(key="import_file")
    return uploader.set_value(("chat.json", data, "application/json")).run()


def shown_text(markdown: str) -> str:
    """What Markdown shows for text made only of escapes and invisible word joiners."""
    return re.sub(r"\\(" + ASCII_PUNCTUATION + ")", r"\1", markdown.replace("\u2060", ""))


def quoted(notice: str) -> str:
    return notice[notice.index("“") + 1 : notice.rindex("”")]


def chats(db_path) -> dict[str, str]:
    with connect(db_path) as store:
        return {s.id: s.title for s in store.list_sessions("local")}


def test_an_uploaded_export_opens_with_its_title_as_plain_text(db_path):
    at = upload(app().run(), export_file())
    assert not at.exception
    [notice] = [info.value for info in at.info]
    assert shown_text(notice) == f"Imported “{TITLE}”."
    title = quoted(notice)
    # Markdown's marks are escaped, and word joiners break every URL, address and
    # :directive (Streamlit finds those even in escaped text).
    assert not re.search(r"[\[\]()!*_<>`]", re.sub(r"\\" + ASCII_PUNCTUATION, "", title))
    assert not re.search(r"https?:/|www\\?\.|\w\\?@|:\w", title)
    imported = param(at)
    assert texts(at) == [("user", ["imported question"]), ("assistant", ["imported answer"])]
    assert chats(db_path)[imported] == TITLE
    with connect(db_path) as store:
        assert store.get_session("local", imported).temperature == 0.4


def test_uploading_the_same_file_again_opens_the_chat_it_made(db_path):
    at = upload(app().run(), export_file())
    imported = param(at)
    at.sidebar.button(key="new_chat").click().run()
    assert param(at) != imported
    at = upload(at, export_file())  # a new upload of the same content
    assert not at.exception
    assert param(at) == imported
    [notice] = [info.value for info in at.info]
    assert shown_text(notice) == f"This file was imported before: “{TITLE}” is open."
    assert list(chats(db_path).values()).count(TITLE) == 1


def test_a_bracket_bomb_gets_a_clear_message_and_writes_nothing(db_path):
    at = app().run()
    before = chats(db_path)
    at = upload(at, b"[" * 100_000)
    assert not at.exception
    errors = [error.value for error in at.sidebar.error]
    assert errors == [
        "Cannot import: the file is nested more than 32 levels deep, which no export is."
    ]
    assert chats(db_path) == before


def test_a_file_with_lone_surrogates_imports_with_its_text_cleaned(db_path):
    """JSON's `\\ud800` escapes make lone surrogates, which UTF-8 cannot write: the
    import drops such a link and replaces such a character, with no traceback."""
    document = json.loads(export_file("surrogates"))
    document["messages"][1].update(
        sources=[{"url": "https://x/\ud800", "title": "broken"}],
        status="error",
        error_code="rate_limited",
        error_params={"request_id": "r-\udc00"},
    )
    at = upload(app().run(), json.dumps(document).encode())
    assert not at.exception
    assert [info.value for info in at.info] == ["Imported “surrogates”."]
    with connect(db_path) as store:
        session = store.get_session("local", param(at))
        reply = store.get_messages(session)[-1]
    assert (reply.sources, reply.error_params) == (None, {"request_id": "r-\ufffd"})
