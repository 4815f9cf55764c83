"""Errors that carry what went wrong as a stable code and parameters, never a sentence.

`ChatError("message_too_long", length=n, limit=m)`: the code is snake_case and the
parameters are JSON-serialisable, so a failed reply can be stored as both and shown in
whatever language the reader picks later. The texts live in the `locales` catalogues;
the UI catches `ChatError` and renders it with `locales.describe(lang, err)`. Anything
else that escapes is a bug. No error ever holds an API key.

Raise a new instance each time: a raise appends to the instance's traceback, which
keeps every frame's locals alive.
"""

from __future__ import annotations

import re
from typing import Any

_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def is_error_code(value: object) -> bool:
    """Whether `value` has the shape of an error code (snake_case text)."""
    return isinstance(value, str) and bool(_CODE.match(value))


class ChatError(Exception):
    """Base error: a `code` and `params` the UI renders in the reader's language."""

    def __init__(
        self,
        code: str,
        /,
        *,
        request_id: str | None = None,
        partial: str = "",
        partial_reasoning: str = "",
        **params: Any,
    ) -> None:
        if not is_error_code(code):
            raise ValueError(f"an error code is snake_case text, not {code!r}")
        super().__init__(code)
        self.code = code
        self.params = params
        self.request_id = request_id or None
        # Text that had streamed before the failure, so the caller can keep it.
        self.partial = partial
        self.partial_reasoning = partial_reasoning
        # A message stored before the failure that could not be taken back: it stays
        # in its chat (unanswered), so the caller must not offer it to be sent again.
        self.kept_message: int | None = None

    def __str__(self) -> str:
        """The code and parameters, for logs (untranslated)."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        text = f"{self.code}({shown})" if shown else self.code
        return f"{text} [request id {self.request_id}]" if self.request_id else text

    def as_dict(self) -> dict[str, Any]:
        """`{"code": ..., "params": ...}` as stored with a failed reply; the request id,
        when there is one, is a parameter."""
        params = dict(self.params)
        if self.request_id:
            params["request_id"] = self.request_id
        return {"code": self.code, "params": params}


class ConfigError(ChatError):
    """A setting has a value the app cannot use."""


# --- input -------------------------------------------------------------------------------


class InvalidInputError(ChatError, ValueError):
    """The user's input was rejected before anything was written."""


class SessionNotFoundError(ChatError, LookupError):
    """No session with that id belongs to this owner."""


class MessageNotFoundError(ChatError, LookupError):
    """No message with that id is in this chat (deleted meanwhile, say in another tab)."""


class SessionExistsError(ChatError):
    """A session was to be created with an id that is already taken."""


class SessionTakenError(ChatError):
    """A first message was meant for an empty chat that another tab has started since."""


class ReplyLimitError(ChatError):
    """Too many replies are being written at once (in this process, or for this user)."""


class ReplyReplacedError(ChatError):
    """A streaming reply's row was removed or finished elsewhere, so it stopped saving."""


class ImportFormatError(InvalidInputError):
    """An import file is not a valid Ark Chat export."""


class ImportDuplicateError(InvalidInputError):
    """This owner already has the chat an import file makes (imported before); its
    `session_id` and `title` are parameters, so the page can open it."""


class ShareLinkError(ChatError, LookupError):
    """A share link that does not open for this viewer: unknown (or private to its
    owner), revoked, or for signed-in users only."""


# --- database ----------------------------------------------------------------------------


class DatabaseError(ChatError):
    """The chat database could not be used."""


class DatabaseUnavailableError(DatabaseError):
    """The database path cannot be created, opened or written."""


class NotADatabaseError(DatabaseError):
    """The database file exists but is not a SQLite database."""


class DatabaseLockedError(DatabaseError):
    """Another process held the database longer than the busy timeout."""


class DatabaseReadOnlyError(DatabaseError):
    """The database file or its folder is read-only."""


class DatabaseTooNewError(DatabaseError):
    """The database was written by a newer version of the app; it is left untouched."""


class DatabaseAuthError(DatabaseError):
    """The database server refused the user name or password."""


class DatabaseSetupError(DatabaseError):
    """The database lacks something the app needs (such as an extension)."""


# --- model service -----------------------------------------------------------------------


class ModelError(ChatError):
    """A call to the model service failed."""


class MissingKeyError(ModelError):
    """No Ark API key is configured."""


class AuthenticationError(ModelError):
    """The Ark API key was refused."""


class ModelNotFoundError(ModelError):
    """The model or endpoint id does not exist or is not reachable with this key."""


class ModelNotOpenError(ModelError):
    """The account has not activated the model."""


class EndpointRequiredError(ModelError):
    """The Context API needs an `ep-...` endpoint id, not a model id."""


class ModeUnavailableError(ModelError):
    """The server cannot serve the chosen conversation mode (a generic server has no
    Context API, or does not chain Responses); nothing was sent."""


class RequestTooLongError(ModelError):
    """The system prompt and the new message alone do not fit the model's context
    window (less the room kept for the reply); nothing was sent."""


class RouteNotFoundError(ModelError):
    """The server has no such API path (a 404 that is not about the model)."""


class RateLimitError(ModelError):
    """Too many requests, after the SDK's own retries."""


class QuotaError(ModelError):
    """The account is out of quota or overdue."""


class ContentFilterError(ModelError):
    """The input or the output was blocked by content moderation."""


class ContextBusyError(ModelError):
    """The cached context is being updated by another request."""


class PermissionDeniedError(ModelError):
    """The account may not use the requested resource."""


class BadRequestError(ModelError):
    """The service rejected the request's parameters."""


class ServerError(ModelError):
    """The model service failed (5xx), after the SDK's own retries."""


class ServiceTimeoutError(ModelError):
    """The model service did not answer in time."""


class ServiceConnectionError(ModelError):
    """The model service could not be reached."""


class StreamInterruptedError(ModelError):
    """The reply stream broke off before it finished."""
