"""What goes with a message besides its text: the images a user attached (drawn from the
app's own media store, never fetched from elsewhere) and the web pages an answer cites
(links the reader may follow; nothing of them is loaded).

The images of the messages a run draws are read in one query before they are drawn
(`prefetch`), and kept in the browser session until the next draw.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from chat_core.capabilities import options
from chat_core.chat import effective
from chat_core.images import FILE_TYPES, Image
from chat_core.markdown import literal
from chat_core.store import Message

from .text import t

IMAGES = "message_images"  # {message id: [Image, ...]} of the messages being drawn
HELD = "held_images"  # {chat key: [Image, ...]} of a message that was not sent
THUMBNAIL_WIDTH = 240
HELD_WIDTH = 64
# Characters a Markdown link target cannot hold as they are.
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"


def takes_images(settings, session) -> bool:
    """Whether the chat's model may be sent images (not one known to read text only)."""
    chosen = effective(session, settings)
    return (
        options(chosen["model"], chosen["model_alias"], chosen["cache_mode"]).images_reason is None
    )


def message_input(
    placeholder: str, *, key: str, disabled: bool, with_images: bool, lang: str, chat_key: str
):
    """A chat input, taking image files (chosen or pasted) when `with_images`: the text
    sent (None when nothing was) and the files attached to it. While a run goes on its
    send button is Stop. Above it, the images kept for the chat `chat_key` (see `hold`),
    unless a message was sent now: they go with it (a refusal shows them again)."""
    kept = st.empty()
    sent = st.chat_input(
        placeholder,
        key=key,
        submit_mode="stop",
        disabled=disabled,
        accept_file="multiple" if with_images else False,
        file_type=list(FILE_TYPES) if with_images else None,
        # The server's upload limit, not the images' own: a file the input refused
        # would leave the message without it, unsaid; the app refuses one too large
        # with its name, and sends nothing.
        max_upload_size=None,
    )
    if sent is None:
        with kept:
            show_held(lang, chat_key)
        return None, []
    if isinstance(sent, str):
        return sent, []
    return sent.text, list(sent.files)


def hold(chat_key: str, images: list[Image]) -> None:
    """Keep the images of a message that was not sent (its text goes back in the
    input, which cannot take files back) for the chat's next message."""
    if images:
        st.session_state.setdefault(HELD, {})[chat_key] = list(images)


def held(chat_key: str) -> list[Image]:
    """The images kept for the chat's next message (see `hold`)."""
    return list((st.session_state.get(HELD) or {}).get(chat_key, ()))


def release(chat_key: str) -> None:
    """Forget the kept images: sent with a message, or removed by the user."""
    (st.session_state.get(HELD) or {}).pop(chat_key, None)


def show_held(lang: str, chat_key: str) -> None:
    """The kept images above the input, small, with a button that removes them."""
    images = held(chat_key)
    if not images:
        return
    row = st.container(horizontal=True, vertical_alignment="center", key="held_images")
    row.image([image.data for image in images], width=HELD_WIDTH)
    row.caption(t(lang, "held_images", count=len(images)))
    row.button(
        t(lang, "held_images_remove"),
        key="held_images_remove",
        icon=":material/close:",
        on_click=release,
        args=(chat_key,),
    )


def prefetch(store, session, messages: list[Message]) -> None:
    """Read the images of the user messages among `messages` for drawing."""
    ids = [message.id for message in messages if message.role == "user"]
    st.session_state[IMAGES] = store.attachments(session, ids) if ids else {}


def images_of(message: Message) -> list[Image]:
    return (st.session_state.get(IMAGES) or {}).get(message.id, [])


def show_images(message: Message) -> None:
    """A user message's images, as thumbnails with their names."""
    images = images_of(message)
    if not images:
        return
    st.image(
        [image.data for image in images],
        width=THUMBNAIL_WIDTH,
        caption=[literal(image.name or "") for image in images],
    )


def show_sources(message: Message, lang: str) -> None:
    """An answer's web sources as a list of links under it."""
    if not message.sources:
        return
    lines = [f"**{t(lang, 'sources')}**"]
    for source in message.sources:
        url = source.get("url", "")
        if not url.lower().startswith(("https://", "http://")):
            continue  # only web links are kept; a stored row of another kind is skipped
        title = literal(source.get("title") or url)
        site = source.get("site")
        where = f" · {literal(site)}" if site else ""
        lines.append(f"1. [{title}]({quote(url, safe=_URL_SAFE)}){where}")
    with st.container(key=f"sources-{message.id}"):
        st.markdown("\n".join(lines))
