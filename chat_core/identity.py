"""Who owns the chats of a visitor: a logged-in user, a proxy-asserted user, or `local`
for a single-user app on one machine. Pure functions of `st.user`'s fields.

An owner key names one account and nothing else:

- `oidc:<iss>#<sub>`: a login, by its provider's stable subject.
- `email:<address in lower case>`: a login without a subject whose provider verified
  the email, or a proxy header mapped to `email` (the proxy is trusted as it sends).
  Lowered, not case-folded: folding makes `faß.de` and `fass.de`, two domains, one
  owner (an account keyed by an older version's folding under such a letter is keyed
  anew).
- `user:<value>`: a proxy header mapped to any other key, as sent.
- `sha256:<hex>`: any of these longer than `MAX_KEY_CHARS`, hashed whole, so two long
  identities never share a key the way a cut-off prefix would.
- `local`: no login and no proxy. Every other key has a prefix ending in a colon, so no
  external identity can ever become `local`.

Older versions stored the raw email or header value, stripped and cut to 320
characters. `Identity.legacy` gives that key back when it is safe to hand its chats to
the new key: see `login_identity` and `proxy_identity`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

LOCAL_OWNER = "local"
# Keys that name a user, in the order older versions tried them (and this one still
# prefers among a proxy's mapped keys).
IDENTITY_KEYS = ("email", "sub", "preferred_username", "user", "name")
MAX_KEY_CHARS = 200
KEY_PREFIXES = ("oidc:", "email:", "user:", "sha256:")
LEGACY_MAX_CHARS = 320  # older versions cut owners to this length
# Characters a database text column cannot hold (NUL in PostgreSQL; lone surrogates in
# UTF-8): a key holding one is hashed like a long one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Identity:
    """An owner key, and the key older versions gave the same person when it can be
    trusted to be theirs (None otherwise)."""

    owner: str
    legacy: str | None = None


def login_identity(claims: Mapping[str, object]) -> Identity | None:
    """The owner of an OpenID Connect login (`st.user` after `st.login`): its issuer
    and subject, else its email when the provider verified it. None when the login
    names nobody usable. Its legacy key is its verified email: anyone may claim an
    unverified one, and a subject alone may come from another issuer."""
    issuer, subject = _exact(claims.get("iss")), _exact(claims.get("sub"))
    email = verified_email(claims)
    if issuer and subject:
        owner = owner_key("oidc", f"{issuer}#{subject}")
    elif email:
        owner = owner_key("email", email_key(email))
    else:
        return None
    return Identity(owner, _handed_over(email))


def proxy_identity(user: Mapping[str, object], mapped: Collection[str]) -> Identity | None:
    """The owner a trusted proxy asserted through the `st.user` keys in `mapped` (the
    values of `server.trustedUserHeaders`), trusted as sent. None when no mapped key
    holds a value. Its legacy key is the value older versions took from the same
    fields."""
    for key in _preferred(mapped):
        value = _stripped(user.get(key))
        if value:
            kind, value = ("email", email_key(value)) if key == "email" else ("user", value)
            return Identity(owner_key(kind, value), _legacy_key(user))
    return None


def email_key(address: str) -> str:
    """An email address as owner keys and admin lists compare it: in lower case."""
    return address.lower()


def owner_key(kind: str, value: str) -> str:
    """`<kind>:<value>`, or its SHA-256 when too long or not storable as text."""
    key = f"{kind}:{value}"
    if len(key) <= MAX_KEY_CHARS and not _UNSTORABLE.search(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def verified_email(claims: Mapping[str, object]) -> str | None:
    """The login's email when its provider says it verified it. Some providers (AWS
    Cognito) send the flag as the text "true"."""
    email, verified = _stripped(claims.get("email")), claims.get("email_verified")
    if verified is True or (isinstance(verified, str) and verified.lower() == "true"):
        return email
    return None


# --- the keys of older versions ------------------------------------------------------------


def _legacy_key(user: Mapping[str, object]) -> str | None:
    """The owner older versions computed from these fields (the first identity key's
    value, stripped and cut to 320 characters), when it can be handed over."""
    for key in IDENTITY_KEYS:
        if value := _stripped(user.get(key)):
            return _handed_over(value)
    return None


def _handed_over(value: str | None) -> str | None:
    """`value` as a legacy key whose chats may move to a new key; None for `local` (the
    single-user chats), for a value older versions cut (every identity sharing those
    320 characters had it), for one no database can store (NUL, half a character: no
    version stored chats under it) and for one shaped like a new key (another person's)."""
    if not value or value == LOCAL_OWNER or len(value) > LEGACY_MAX_CHARS:
        return None
    if _UNSTORABLE.search(value):
        return None
    return None if value.startswith(KEY_PREFIXES) else value


def _preferred(mapped: Collection[str]) -> list[str]:
    """Mapped keys in the order older versions tried them, then the rest by name."""
    known = [key for key in IDENTITY_KEYS if key in mapped]
    return known + sorted(set(mapped) - set(IDENTITY_KEYS))


def _stripped(value: object) -> str | None:
    """A field's text without surrounding blanks; None when blank or not text."""
    return (value.strip() or None) if isinstance(value, str) else None


def _exact(value: object) -> str | None:
    """A claim compared exactly (OIDC's `iss` and `sub`); None when blank or not text."""
    return value if isinstance(value, str) and value.strip() else None
