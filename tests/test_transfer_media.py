"""A chat's images and web sources in its JSON export, and the import's checks of them
(both backends): what was exported comes back whole; a bad image refuses the file."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image as Pillow

from chat_core.errors import ImportFormatError
from chat_core.images import MAX_IMAGES, prepare_image
from chat_core.transfer import export_json, export_markdown, import_json
from tests.test_transfer import export_document, refused


def picture(color="red", size=(40, 30), name="p.png"):
    out = io.BytesIO()
    Pillow.new("RGB", size, color).save(out, "PNG")
    return prepare_image(name, out.getvalue())


def chat_with_media(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "what is this?", images=[picture(), picture("blue", name="b.png")])
    reply = store.begin_reply(session)
    sources = [{"url": "https://search.example/1", "title": "One", "site": "search.example"}]
    store.save_reply(session, reply.id, content="A red box.", status="complete", sources=sources)
    return session


def document(*messages):
    return json.dumps({"format": "ark-chat-session", "version": 1, "messages": list(messages)})


def user_with(*attachments, **fields):
    return {"role": "user", "content": "look", "attachments": list(attachments), **fields}


def attachment(data=None, mime="image/jpeg", **fields):
    if data is None:
        data = base64.b64encode(picture().data).decode()
    return {"name": "x.jpg", "mime": mime, "width": 40, "height": 30, "data": data, **fields}


def test_export_carries_images_and_sources_and_import_restores_them(store):
    session = chat_with_media(store)
    exported = json.loads(export_json(store, "alice", session.id))
    user, answer = exported["messages"]
    assert [a["name"] for a in user["attachments"]] == ["p.png", "b.png"]
    assert base64.b64decode(user["attachments"][0]["data"]) == picture().data
    assert answer["sources"][0]["url"] == "https://search.example/1"
    copy = import_json(store, "bob", json.dumps(exported))
    user2, answer2 = store.get_messages(copy)
    assert store.attachments(copy, [user2.id])[user2.id] == [
        picture(),
        picture("blue", name="b.png"),
    ]
    assert answer2.sources == answer["sources"]


def test_importing_the_same_file_twice_is_found_as_a_duplicate(store):
    session = chat_with_media(store)
    data = export_json(store, "alice", session.id)
    import_json(store, "bob", data)
    with pytest.raises(Exception) as again:
        import_json(store, "bob", data)
    assert again.value.code == "import_duplicate"


@pytest.mark.parametrize(
    "bad",
    [
        attachment(data="%%% not base64 %%%"),
        attachment(data=base64.b64encode(b"<html>not an image</html>").decode()),
        attachment(mime="text/html"),
        attachment(mime="image/svg+xml"),
        attachment(mime="image/png"),  # JPEG bytes that claim to be PNG
        attachment(data=""),
        attachment(data=7),
        attachment(data="A" * (30 * 1024 * 1024)),  # over the size limit, unread
        "not an object",
    ],
    ids=[
        "bad-base64",
        "not-an-image",
        "html",
        "svg",
        "lying-type",
        "empty",
        "not-text",
        "too-large",
        "not-object",
    ],
)
def test_a_bad_image_refuses_the_whole_file(store, bad):
    data = document(user_with(bad), {"role": "assistant", "content": "ok"})
    with pytest.raises(ImportFormatError) as refused:
        import_json(store, "alice", data)
    assert refused.value.code == "import_bad_attachment"
    assert refused.value.params == {"number": 1}
    assert [s for s in store.list_sessions("alice") if s.is_used] == []


def test_too_many_images_or_images_on_an_answer_are_refused(store):
    with pytest.raises(ImportFormatError):
        import_json(store, "alice", document(user_with(*[attachment()] * (MAX_IMAGES + 1))))
    answer = {"role": "assistant", "content": "x", "attachments": [attachment()]}
    with pytest.raises(ImportFormatError):
        import_json(store, "alice", document(user_with(), answer))


def test_unusable_sources_are_dropped_not_refused(store):
    answer = {
        "role": "assistant",
        "content": "x",
        "sources": [
            {"url": "javascript:alert(1)", "title": "evil"},
            {"url": "https://ok.example/a", "title": "fine"},
            {"url": "https://ok.example/a", "title": "again"},
            "not an object",
            {"title": "no url"},
        ],
    }
    copy = import_json(store, "alice", document({"role": "user", "content": "q"}, answer))
    _, reply = store.get_messages(copy)
    assert reply.sources == [{"url": "https://ok.example/a", "title": "fine"}]


def test_a_chats_effort_web_search_and_served_model_come_back(store):
    session, _ = store.new_session("alice")
    store.update_settings(
        "alice",
        session.id,
        model="ep-20260101000000-served",
        model_alias="doubao-seed-2-1-pro-260628",
        reasoning_effort="minimal",
        web_search=True,
        cache_mode="responses",
    )
    store.start_turn(session, "hello")
    copy = import_json(store, "bob", export_json(store, "alice", session.id))
    chosen = ("model", "model_alias", "reasoning_effort", "web_search", "cache_mode")
    assert [getattr(copy, name) for name in chosen] == [
        "ep-20260101000000-served",
        "doubao-seed-2-1-pro-260628",
        "minimal",
        True,
        "responses",
    ]


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"web_search": "yes"}, "web_search"),
        ({"web_search": 1}, "web_search"),
        ({"model_alias": ["doubao"]}, "model_alias"),
        ({"model_alias": "m" * 201}, "model_alias"),
    ],
)
def test_a_bad_effort_web_search_or_served_model_refuses_the_file(store, settings, name):
    error = refused(store, export_document(**settings))
    assert (error.code, error.params) == ("import_bad_setting", {"name": name})


def test_the_markdown_export_names_the_images_and_links_the_sources(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "what is this?", images=[picture(), picture("blue", name="b.png")])
    reply = store.begin_reply(session)
    sources = [
        {"url": "https://search.example/1", "title": "One [x](y)"},
        {"url": "https://search.example/a_(2)", "title": "Two"},
    ]
    store.save_reply(session, reply.id, content="A red box.", status="complete", sources=sources)
    text = export_markdown(store, "alice", session.id)
    assert "what is this?\n```\n\n*Image: p\\.png (40×30)*\n\n*Image: b\\.png (40×30)*\n" in text
    assert "A red box.\n\n**Sources**\n\n" in text
    assert "1. [One \\[x\\]\\(y\\)](https://search.example/1)\n" in text
    assert "2. [Two](https://search.example/a_%282%29)\n" in text
    assert "base64" not in text and "data:" not in text
    assert "图片：p\\.png（40×30）" in export_markdown(store, "alice", session.id, lang="zh")
