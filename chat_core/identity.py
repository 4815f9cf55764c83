"""Who owns the sessions of a visitor: a logged-in user, a proxy-asserted user, or
`local` for a single-user app on one machine."""

from __future__ import annotations

from collections.abc import Mapping

LOCAL_OWNER = "local"
# Claims that name a user, in order of preference: OIDC login fills email/sub; a proxy's
# header lands under whatever key server.trustedUserHeaders maps it to.
IDENTITY_KEYS = ("email", "sub", "preferred_username", "user", "name")
MAX_OWNER_CHARS = 320


def owner_from_user(user: Mapping[str, object]) -> str | None:
    """The owner named by `st.user`'s fields, or None when they name nobody."""
    for key in IDENTITY_KEYS:
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_OWNER_CHARS]
    return None
