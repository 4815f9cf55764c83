"""Message content with images, in the form each API takes (ark-api.md; SDK types):

* Chat Completions and the Context API: a list of parts, the text as
  `{"type": "text"}` and each image as `{"type": "image_url", "image_url": {"url": …}}`;
* Responses: `{"type": "input_text"}` and `{"type": "input_image", "image_url": …}`.

Images go inline as base64 `data:` URLs. A message without images stays a plain string,
exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..images import Image
from .events import TurnRequest

CHAT, RESPONSES = "chat", "responses"


def user_content(text: str, images: Sequence[Image], api: str) -> str | list[dict]:
    """A user message's content for `api`: `text` alone, or its parts with the images."""
    if not images:
        return text
    if api == RESPONSES:
        parts = [{"type": "input_text", "text": text}] if text else []
        parts += [
            {"type": "input_image", "image_url": image.data_url, "detail": "auto"}
            for image in images
        ]
        return parts
    parts = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": image.data_url}} for image in images]
    return parts


def new_message(request: TurnRequest, api: str) -> dict:
    """The user's new message, with its images."""
    return {"role": "user", "content": user_content(request.new_message, request.images, api)}


def image_tokens(request: TurnRequest) -> dict:
    """What the images of `request` cost, as `history.prefix_messages` takes it: per
    message of its history, and for its new message."""
    return {
        "images": [sum(image.tokens for image in images) for images in request.history_images],
        "new_images": sum(image.tokens for image in request.images),
    }


def with_history_images(messages: list[dict], request: TurnRequest, api: str) -> list[dict]:
    """`messages` (a system prompt, then the newest part of `request.history` that
    `history.prefix_messages` kept) with each kept user message's images put back."""
    if not any(request.history_images):
        return messages
    kept = len(messages) - (1 if messages and messages[0]["role"] == "system" else 0)
    first = len(request.history) - kept
    result = messages[: len(messages) - kept]
    for offset, message in enumerate(messages[len(messages) - kept :]):
        images = request.history_images[first + offset]
        if images and message["role"] == "user":
            message = {**message, "content": user_content(message["content"], images, api)}
        result.append(message)
    return result
