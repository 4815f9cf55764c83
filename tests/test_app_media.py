"""AppTest: images attached in the chat input, web search with its sources, reasoning
effort and a true tiered cost, end to end against a real SQLite file and the emulator;
and the same chat exported and imported again, whole."""

import contextlib
import io
import json
import re
from decimal import Decimal

import pytest
from PIL import Image as Pillow

from chat_core import temporary
from chat_core.catalogue import find_model
from chat_core.config import load_settings
from chat_core.errors import DatabaseLockedError, DatabaseReadOnlyError
from chat_core.markdown import literal
from chat_core.pricing import cost
from chat_core.runner import MAX_PER_OWNER
from chat_core.store import Store, connect
from chat_core.transfer import export_json, import_json
from tests.test_app import (  # noqa: F401 (fixtures)
    app,
    close_clients,
    env,
    labelled,
    last_action,
    param,
    texts,
)
from ui.runtime import shared_runner

pytestmark = pytest.mark.usefixtures("env")  # ARK_MODEL=ep-test, on `db_path`

SEED_2_1_PRO = "doubao-seed-2-1-pro-260628"


def photo(width=2400, height=1600) -> bytes:
    out = io.BytesIO()
    Pillow.effect_noise((width, height), 30).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def pick(at, model=SEED_2_1_PRO, *, mode="responses", effort="low", search=True):
    sid = param(at)
    labelled(at.selectbox, "Model or endpoint id").set_value(model).run()
    labelled(at.selectbox, "Conversation mode").set_value(mode).run()
    if effort:
        labelled(at.selectbox, "Reasoning effort").set_value(effort).run()
    if search:
        labelled(at.toggle, "Web search").set_value(True).run()
    return at.button(key=f"settings-save-{sid}").click().run()


def posts(emu):
    return [r for r in emu.requests if r.method == "POST" and r.path.endswith("/responses")]


def test_done_when_seed_2_1_pro_low_effort_photo_and_web_search(db_path, emu):
    emu.clear_requests()
    at = pick(app().run())
    sid = param(at)
    prompt = "What is in this photo? #input_tokens=40000"
    chat = at.chat_input(key="chat_input").upload("holiday.jpg", photo(), "image/jpeg")
    chat.set_value(prompt).run()
    assert not at.exception
    # What the model was sent: the model, the effort, the tool and the image.
    (sent,) = [r.body for r in posts(emu) if "#input_tokens" in json.dumps(r.body)]
    assert sent["model"] == SEED_2_1_PRO
    assert sent["reasoning"] == {"effort": "low"}
    assert sent["tools"] == [{"type": "web_search"}]
    parts = sent["input"][-1]["content"]
    assert [p["type"] for p in parts] == ["input_text", "input_image"]
    assert parts[1]["image_url"].startswith("data:image/jpeg;base64,")
    # The answer, with its sources as links, and a cost at the model's price.
    answer = at.chat_message[1]
    assert answer.markdown[0].value == f"Echo: {prompt} [image: 2048×1365 JPEG]"
    sources = [m.value for m in answer.markdown if "Sources" in m.value]
    assert sources and "[Result 1 for What is in this photo? " in sources[0]
    assert "(https://search.example/1?q=What%20is%20in%20this%20photo" in sources[0]
    with connect(db_path) as store:
        session = store.get_session("local", sid)
        user, reply = store.get_messages(session)
        images = store.attachments(session, [user.id])[user.id]
    assert (images[0].width, images[0].height, images[0].name) == (2048, 1365, "holiday.jpg")
    assert len(reply.sources) == 3
    assert reply.prompt_tokens > 40_000  # the stated prompt, with the image's tokens
    price = find_model(SEED_2_1_PRO).prices.rates(reply.prompt_tokens, reply.completion_tokens)
    expected = (reply.prompt_tokens * price.input + reply.completion_tokens * price.output) / (
        Decimal(1_000_000)
    )
    assert cost(reply, SEED_2_1_PRO) == expected
    assert f"¥{expected:.4f}" in answer.caption[0].value
    # The photo shows in the history once the page is drawn again.
    at = app(session=sid).run()
    (shown,) = at.chat_message[0].image
    assert shown.captions == [literal("holiday.jpg")]  # captions are Markdown: shown as is
    assert len(shown.value) == 1 and not shown.value[0].startswith("http")  # the app serves it
    # Exported and imported again, the chat keeps all of it.
    with connect(db_path) as store:
        data = export_json(store, "local", sid)
        copy = import_json(store, "bob", data)
        user2, reply2 = store.get_messages(copy)
        images2 = store.attachments(copy, [user2.id])[user2.id]
    assert images2 == images
    assert reply2.sources == reply.sources
    assert (copy.model, copy.reasoning_effort, copy.web_search, copy.cache_mode) == (
        SEED_2_1_PRO,
        "low",
        True,
        "responses",
    )
    assert cost(reply2, copy.model) == expected


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(db_path, emu):
    at = app().run()
    sid = param(at)
    chat = at.chat_input(key="chat_input").upload("notes.png", b"not an image", "image/png")
    chat.set_value("look at this").run()
    assert "is not an image this app can read" in at.error[0].value
    assert texts(at) == []
    assert at.chat_input(key="chat_input").value == "look at this"  # to send again
    with connect(db_path) as store:
        assert store.get_messages(store.get_session("local", sid)) == []


def refused_with_a_photo(monkeypatch, db_path, at=None, text="what is this?"):
    """A chat (a new one unless `at` shows one) whose message `text` with a photo the
    database refused (a read-only folder); and the function that makes the database
    writable again."""
    original = Store.start_turn

    def read_only(self, session, text, **options):
        raise DatabaseReadOnlyError("database_folder_read_only", folder=str(db_path.parent))

    monkeypatch.setattr(Store, "start_turn", read_only)  # injected fault
    at = at or app().run()
    chat = at.chat_input(key="chat_input").upload("holiday.jpg", photo(800, 600), "image/jpeg")
    chat.set_value(text).run()
    return at, lambda: monkeypatch.setattr(Store, "start_turn", original)


def kept_note(at) -> list[str]:
    return [c.value for c in at.caption if "message that was not sent" in c.value]


def first_message_images(db_path, sid):
    with connect(db_path) as store:
        session = store.get_session("local", sid)
        user, reply = store.get_messages(session)
        return store.attachments(session, [user.id]).get(user.id, []), reply


def image_names_by_question(db_path, sid) -> list[list[str]]:
    with connect(db_path) as store:
        session = store.get_session("local", sid)
        ids = [m.id for m in store.get_messages(session) if m.role == "user"]
        found = store.attachments(session, ids)
    return [[image.name for image in found.get(i, [])] for i in ids]


def test_a_stored_message_whose_reply_cannot_begin_stays_in_the_chat(db_path, emu, monkeypatch):
    """The message and its photo are stored, then the database stays locked both for the
    read before its reply and for taking the message back: it stays in the chat with
    Retry, and neither its text nor its photo waits to be sent a second time."""
    original = {
        name: getattr(Store, name) for name in ("start_turn", "get_session", "delete_message")
    }

    def once_locked(name):
        def locked(self, *args, **kwargs):
            monkeypatch.setattr(Store, name, original[name])  # free again after this call
            raise DatabaseLockedError("database_locked")

        return locked

    def stored_then_locked(self, *args, **kwargs):
        stored = original["start_turn"](self, *args, **kwargs)
        for name in ("get_session", "delete_message"):  # injected faults
            monkeypatch.setattr(Store, name, once_locked(name))
        return stored

    at = app().run()
    at.chat_input(key="chat_input").set_value("hello").run()
    monkeypatch.setattr(Store, "start_turn", stored_then_locked)
    chat = at.chat_input(key="chat_input").upload("holiday.jpg", photo(800, 600), "image/jpeg")
    chat.set_value("what is this?").run()
    assert not at.exception
    assert "database is busy" in at.error[0].value
    assert any("Your message is saved in the chat" in n.value for n in at.info)
    assert not at.chat_input(key="chat_input").value and kept_note(at) == []
    assert texts(at)[-1] == ("user", ["what is this?"])
    monkeypatch.setattr(Store, "start_turn", original["start_turn"])
    last_action(at, "retry").click().run()
    assert not at.exception and kept_note(at) == []
    assert image_names_by_question(db_path, param(at)) == [[], ["holiday.jpg"]]
    assert texts(at)[-1][1][0].endswith("[image: 800×600 JPEG]")


def test_a_refused_messages_images_wait_for_the_next_message(db_path, emu, monkeypatch):
    at, writable_again = refused_with_a_photo(monkeypatch, db_path)
    assert not at.exception
    assert "make the folder writable" in at.error[0].value
    assert at.chat_input(key="chat_input").value == "what is this?"  # the text, to send again
    assert kept_note(at) == [
        "The images of the message that was not sent (1) go with your next one."
    ]
    writable_again()
    chat = at.chat_input(key="chat_input").upload("b.png", photo(300, 200), "image/png")
    chat.set_value("what is this?").run()
    assert not at.exception and kept_note(at) == []  # sent: nothing waits any more
    images, reply = first_message_images(db_path, param(at))
    assert [image.name for image in images] == ["holiday.jpg", "b.png"]  # kept ones first
    assert reply.content.endswith("[image: 800×600 JPEG] [image: 300×200 JPEG]")


def test_kept_images_wait_through_a_regenerate_for_the_next_message(db_path, emu, monkeypatch):
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello").run()
    at, writable_again = refused_with_a_photo(monkeypatch, db_path, at)
    writable_again()
    last_action(at, "regenerate").click().run()  # a new answer sends no message
    assert not at.exception and len(kept_note(at)) == 1
    at.chat_input(key="chat_input").set_value("what is this?").run()
    assert kept_note(at) == []
    assert image_names_by_question(db_path, param(at)) == [[], ["holiday.jpg"]]


def test_a_refused_message_of_images_alone_keeps_them(db_path, emu, monkeypatch):
    at, writable_again = refused_with_a_photo(monkeypatch, db_path, text="")
    assert "make the folder writable" in at.error[0].value and len(kept_note(at)) == 1
    writable_again()
    at.chat_input(key="chat_input").set_value("and now?").run()
    assert image_names_by_question(db_path, param(at)) == [["holiday.jpg"]]


def test_images_kept_from_a_refused_message_can_be_removed(db_path, emu, monkeypatch):
    at, writable_again = refused_with_a_photo(monkeypatch, db_path)
    assert kept_note(at)
    at.button(key="held_images_remove").click().run()
    assert kept_note(at) == []
    writable_again()
    at.chat_input(key="chat_input").set_value("what is this?").run()
    images, reply = first_message_images(db_path, param(at))
    assert images == [] and "[image:" not in reply.content


def test_a_refused_temporary_messages_images_wait_for_the_next_message(emu):
    at = app(temporary="1").run()
    chat = at.chat_input(key="temporary_input").upload("holiday.jpg", photo(800, 600), "image/jpeg")
    chat.set_value("界" * 100_001).run()
    assert "too long" in at.error[0].value and len(kept_note(at)) == 1
    at.chat_input(key="temporary_input").set_value("and now?").run()
    assert not at.exception and kept_note(at) == []
    kept = at.session_state["temporary_chat:local"]
    (question, answer) = kept.messages
    assert [image.name for image in kept.images[question.id]] == ["holiday.jpg"]
    assert answer.content.endswith("[image: 800×600 JPEG]")


def test_saving_a_temporary_chat_takes_its_refused_message_along(db_path, emu, monkeypatch):
    monkeypatch.setattr(temporary, "MAX_TEMPORARY_IMAGE_BYTES", 1_000)  # no photo fits
    at = app(temporary="1").run()
    at.chat_input(key="temporary_input").set_value("hello").run()
    chat = at.chat_input(key="temporary_input").upload("holiday.jpg", photo(800, 600), "image/jpeg")
    chat.set_value("what is this?").run()
    assert "at most 0 MB of images" in at.error[0].value and len(kept_note(at)) == 1
    at.button(key="temporary_save").click().run()
    sid = param(at)  # the saved chat, open with the message waiting in its input
    assert at.chat_input(key="chat_input").value == "what is this?" and len(kept_note(at)) == 1
    at.chat_input(key="chat_input").set_value("what is this?").run()
    assert image_names_by_question(db_path, sid) == [[], ["holiday.jpg"]]
    at = app(temporary="1").run()  # and a new temporary chat has nothing waiting
    assert kept_note(at) == []


def test_a_text_only_model_takes_no_files():
    at = pick(app().run(), "glm-5-2-260617", mode="off", effort=None, search=False)
    assert not at.chat_input(key="chat_input").proto.accept_file


def test_a_search_failing_mid_stream_keeps_the_text_and_the_sources(db_path, emu):
    at = pick(app().run(), effort=None)
    emu.fail_next("stream_error", after_tokens=2)
    at.chat_input(key="chat_input").set_value("breaking news now").run()
    with connect(db_path) as store:
        (session,) = [s for s in store.list_sessions("local") if s.is_used]
        _, reply = store.get_messages(session)
    assert reply.status == "error"
    assert reply.content == "Echo: breaking "
    assert [s["url"] for s in reply.sources] == [
        f"https://search.example/{n}?q=breaking%20news%20now" for n in (1, 2, 3)
    ]


def test_cited_titles_show_as_text_and_nothing_under_an_answer_loads_by_itself(db_path, emu):
    at = pick(app().run(), effort=None)
    hostile = "![x](https://e.example/p.png) <img src=//e.example>"
    at.chat_input(key="chat_input").set_value(hostile).run()  # the titles quote the query
    (sources,) = [m.value for m in at.chat_message[1].markdown if "Sources" in m.value]
    assert sources.count("](https://search.example/") == 3  # three links, to the pages
    assert "![" not in sources and not re.search(r"(?<!\\)<", sources)  # no image, no HTML
    assert literal("Result 1 for " + hostile) in sources


def test_a_temporary_message_the_reply_limit_refuses_keeps_its_images(emu):
    at = app(temporary="1").run()
    runner = shared_runner(load_settings())
    with contextlib.ExitStack() as busy:  # three replies of this user running elsewhere
        for _ in range(MAX_PER_OWNER):
            busy.enter_context(runner.counted("local"))
        chat = at.chat_input(key="temporary_input").upload("a.jpg", photo(400, 300), "image/jpeg")
        chat.set_value("what is this?").run()
        assert [e.value for e in at.error if "You already have 3 replies" in e.value]
        assert len(kept_note(at)) == 1
    at.chat_input(key="temporary_input").set_value("and now?").run()
    kept = at.session_state["temporary_chat:local"]
    (question, _) = kept.messages
    assert [image.name for image in kept.images[question.id]] == ["a.jpg"]
