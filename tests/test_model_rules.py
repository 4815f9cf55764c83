"""What a chat's model allows, enforced by the chat service before anything is written
or sent (real store on both backends, real SDK, loopback emulator): images only for a
model that reads them, reasoning effort only where the model and the mode take it."""

import io

import pytest
from PIL import Image as Pillow

from chat_core import chat
from chat_core.config import load_settings
from chat_core.errors import EndpointRequiredError, InvalidInputError
from chat_core.images import prepare_image
from locales import describe
from tests.conftest import EMULATOR_KEY

TEXT_ONLY = "glm-5-2-260617"
READS_IMAGES = "doubao-seed-2-1-pro-260628"
NO_EFFORT = "doubao-seed-1-6-flash-250828"
ENDPOINT = "ep-20260101000000-rules"


@pytest.fixture
def settings(emu, db_path):
    emu.clear_requests()
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": READS_IMAGES,
            "ARK_MAX_RETRIES": "0",
            "CHAT_DB": str(db_path),
            "ARK_THINKING": "disabled",
            "CHAT_TITLES": "off",
        }
    )


def photo():
    out = io.BytesIO()
    Pillow.new("RGB", (64, 48), "teal").save(out, "PNG")
    return prepare_image("photo.png", out.getvalue())


def sent_bodies(emu):
    return [request.body for request in emu.requests if request.method == "POST"]


def chat_with(store, **chosen):
    session, _ = store.new_session("alice")
    return store.update_settings("alice", session.id, **chosen)


def finish(reply):
    with reply:
        for _ in reply:
            pass


@pytest.mark.parametrize(
    "chosen",
    [{"model": TEXT_ONLY}, {"model": ENDPOINT, "model_alias": TEXT_ONLY}],
    ids=["text-only model", "endpoint serving one"],
)
def test_images_for_a_model_that_reads_text_only_are_refused_before_anything_happens(
    store, settings, client, emu, chosen
):
    session = chat_with(store, **chosen)
    with pytest.raises(InvalidInputError) as refused:
        chat.send(store, settings, session, client, "what is this?", images=[photo()])
    assert refused.value.code == "images_not_supported"
    assert store.get_messages(session) == []
    assert not store.get_session("alice", session.id).is_used
    assert sent_bodies(emu) == []


@pytest.mark.parametrize(
    "chosen",
    [{"model": READS_IMAGES}, {"model": ENDPOINT}],
    ids=["vision model", "endpoint nothing is known about"],
)
def test_images_go_to_a_model_that_reads_them_or_may(store, settings, client, emu, chosen):
    session = chat_with(store, **chosen)
    finish(chat.send(store, settings, session, client, "what is this?", images=[photo()]))
    (body,) = sent_bodies(emu)
    parts = body["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url"]
    user, _ = store.get_messages(session)
    assert len(store.attachments(session, [user.id])[user.id]) == 1


@pytest.mark.parametrize(
    ("chosen", "sent"),
    [
        ({"model": READS_IMAGES}, "low"),
        ({"model": NO_EFFORT}, None),  # the model takes none
        ({"model": ENDPOINT, "model_alias": NO_EFFORT}, None),  # nor does the one served
        ({"model": ENDPOINT, "model_alias": READS_IMAGES}, "low"),
    ],
    ids=["takes it", "takes none", "endpoint of one without", "endpoint of one with"],
)
def test_reasoning_effort_is_sent_only_where_the_model_takes_it(
    store, settings, client, emu, chosen, sent
):
    session = chat_with(store, reasoning_effort="low", **chosen)
    finish(chat.send(store, settings, session, client, "think a little"))
    (body,) = sent_bodies(emu)
    assert body.get("reasoning_effort") == sent
    assert store.get_messages(session)[-1].status == "complete"


@pytest.mark.parametrize(
    ("chosen", "sent"),
    [
        ({"model": "deepseek-v3-2-251201", "thinking": "auto"}, "disabled"),  # on or off only
        ({"model": "doubao-1-5-pro-32k-250115", "thinking": "enabled"}, "disabled"),
        ({"model": "doubao-1-5-pro-32k-250115"}, "disabled"),  # the default: disabled
        ({"model": ENDPOINT, "model_alias": "doubao-seed-1-6-thinking-250715"}, "enabled"),
        ({"model": READS_IMAGES, "thinking": "auto"}, "auto"),
        ({"model": ENDPOINT, "thinking": "auto"}, "auto"),  # nothing known: as chosen
    ],
    ids=["no auto", "off only", "default", "endpoint of one on only", "takes all", "unknown"],
)
def test_only_a_thinking_mode_the_model_takes_is_sent(store, settings, client, emu, chosen, sent):
    session = chat_with(store, **chosen)
    finish(chat.send(store, settings, session, client, "think or not"))
    (body,) = sent_bodies(emu)
    assert body["thinking"] == {"type": sent}
    assert store.get_messages(session)[-1].status == "complete"


def test_the_context_api_without_an_endpoint_is_refused_before_anything_happens(
    store, settings, client, emu
):
    session = chat_with(store, model=READS_IMAGES, cache_mode="context")  # say, imported
    with pytest.raises(EndpointRequiredError) as refused:
        chat.send(store, settings, session, client, "hello")
    assert refused.value.code == "endpoint_required"
    assert "Choose an endpoint id in the chat's settings" in describe("en", refused.value)
    assert store.get_messages(session) == [] and sent_bodies(emu) == []


def test_the_context_api_with_an_endpoint_goes_through(store, settings, client, emu):
    session = chat_with(store, model=ENDPOINT, cache_mode="context")
    finish(chat.send(store, settings, session, client, "hello"))
    assert store.get_messages(session)[-1].content == "Echo: hello"
    assert sent_bodies(emu)[-1]["model"] == ENDPOINT


@pytest.mark.parametrize("mode", ["off", "responses"])
def test_a_chat_switched_to_a_text_only_model_names_its_earlier_images(
    store, settings, client, emu, mode
):
    session = chat_with(store, model=READS_IMAGES, cache_mode=mode)
    finish(chat.send(store, settings, session, client, "", images=[photo()]))
    finish(chat.send(store, settings, session, client, "and in words?"))
    session = store.update_settings("alice", session.id, model=TEXT_ONLY)
    emu.clear_requests()
    finish(chat.send(store, settings, session, client, "now a text question"))
    (body,) = sent_bodies(emu)
    sent = body.get("messages") or body["input"]
    assert all(isinstance(m["content"], str) for m in sent), sent  # no image parts
    assert sent[0]["content"] == "[image: photo.png]"  # a question of the image alone
    assert [m.status for m in store.get_messages(session)][-1] == "complete"


def test_answering_an_image_question_again_on_a_text_only_model_is_refused_first(
    store, settings, client, emu
):
    session = chat_with(store, model=READS_IMAGES)
    finish(chat.send(store, settings, session, client, "what is this?", images=[photo()]))
    session = store.update_settings("alice", session.id, model=TEXT_ONLY)
    before = store.get_messages(session)
    question = before[0]
    emu.clear_requests()
    for again in (
        lambda: chat.regenerate(store, settings, session, client),
        lambda: chat.edit(store, settings, session, client, question.id, "what is it?"),
    ):
        with pytest.raises(InvalidInputError) as refused:
            again()
        assert refused.value.code == "images_not_supported"
    assert store.get_messages(session) == before and sent_bodies(emu) == []


def test_answering_again_in_the_context_api_without_an_endpoint_is_refused_first(
    store, settings, client, emu
):
    session = chat_with(store, model=READS_IMAGES)
    finish(chat.send(store, settings, session, client, "hello"))
    session = store.update_settings("alice", session.id, cache_mode="context")
    before = store.get_messages(session)
    emu.clear_requests()
    for again in (
        lambda: chat.regenerate(store, settings, session, client),
        lambda: chat.edit(store, settings, session, client, before[0].id, "hello again"),
    ):
        with pytest.raises(EndpointRequiredError):
            again()
    assert store.get_messages(session) == before and sent_bodies(emu) == []
