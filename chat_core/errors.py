"""Errors whose messages are safe to show a user, in English and Chinese.

The UI catches `ChatError` and shows `err.message(lang)`. Anything else that escapes
is a bug. Messages never contain an API key.
"""

from __future__ import annotations


class ChatError(Exception):
    """Base error: its message is safe to show a user."""

    def __init__(
        self,
        en: str,
        zh: str | None = None,
        *,
        request_id: str | None = None,
        partial: str = "",
        partial_reasoning: str = "",
    ) -> None:
        self.en = en
        self.zh = zh or en
        self.request_id = request_id or None
        # Text that had streamed before the failure, so the caller can keep it.
        self.partial = partial
        self.partial_reasoning = partial_reasoning
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The message in `lang` ("en" or "zh"), with the request id when there is one."""
        text = self.zh if lang == "zh" else self.en
        if self.request_id:
            label = "请求 ID" if lang == "zh" else "request id"
            text = f"{text} ({label}: {self.request_id})"
        return text


class ConfigError(ChatError):
    """A setting has a value the app cannot use."""


# --- input -------------------------------------------------------------------------------


class InvalidInputError(ChatError, ValueError):
    """The user's input was rejected before anything was written."""


class SessionNotFoundError(ChatError, LookupError):
    """No session with that id belongs to this owner."""


class ReplyReplacedError(ChatError):
    """A streaming reply's row was removed or finished elsewhere, so it stopped saving."""


class ImportFormatError(InvalidInputError):
    """An import file is not a valid Ark Chat export."""


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
