"""Owner keys (chat_core/identity.py): who a login or a proxy-asserted user is, and which
key of an older version may hand its chats over."""

from __future__ import annotations

import pytest

from chat_core.identity import (
    IDENTITY_KEYS,
    LOCAL_OWNER,
    MAX_KEY_CHARS,
    Identity,
    login_identity,
    owner_key,
    proxy_identity,
)

ISSUER = "https://accounts.example.com"


def login(**claims) -> dict:
    """`st.user` after `st.login`, as Streamlit fills it from the ID token."""
    return {"is_logged_in": True, "provider": "default", **claims}


def proxied(value: object, key: str = "email") -> Identity | None:
    return proxy_identity({key: value}, [key])


# --- logins --------------------------------------------------------------------------------


def test_a_login_is_its_issuer_and_subject_even_with_a_verified_email():
    identity = login_identity(
        login(
            iss=ISSUER, sub="10769150350006150715", email="Alice@Example.com", email_verified=True
        )
    )
    assert identity == Identity(f"oidc:{ISSUER}#10769150350006150715", "Alice@Example.com")


def test_the_email_follows_the_account_not_the_other_way_round():
    before = login_identity(login(iss=ISSUER, sub="42", email="old@example.com"))
    after = login_identity(login(iss=ISSUER, sub="42", email="new@example.com"))
    someone_else = login_identity(login(iss=ISSUER, sub="43", email="old@example.com"))
    assert before.owner == after.owner != someone_else.owner


def test_the_same_subject_at_another_issuer_is_another_owner():
    ours = login_identity(login(iss=ISSUER, sub="42"))
    theirs = login_identity(login(iss="https://other.example.org", sub="42"))
    assert ours.owner != theirs.owner


def test_an_unverified_email_is_never_an_owner_nor_a_legacy_key():
    assert login_identity(login(email="victim@example.com")) is None
    assert login_identity(login(email="victim@example.com", email_verified=False)) is None
    assert login_identity(login(email="victim@example.com", email_verified="false")) is None
    with_sub = login_identity(login(iss=ISSUER, sub="7", email="victim@example.com"))
    assert with_sub == Identity(f"oidc:{ISSUER}#7", None)


def test_without_a_subject_a_verified_email_is_the_owner_in_lower_case():
    identity = login_identity(login(email="  Alice@Example.COM ", email_verified=True))
    assert identity == Identity("email:alice@example.com", "Alice@Example.COM")


def test_the_text_true_counts_as_verified():
    # AWS Cognito sends the flag as text.
    assert login_identity(login(email="a@example.com", email_verified="true")).owner == (
        "email:a@example.com"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": "42"},  # a subject means nothing without its issuer
        {"iss": ISSUER},
        {"iss": ISSUER, "sub": "   "},
        {"iss": ISSUER, "sub": 42},
        {"name": "Alice", "preferred_username": "alice"},
        {"email": "", "email_verified": True},
    ],
)
def test_a_login_without_a_usable_identity_is_none(claims):
    assert login_identity(login(**claims)) is None


def test_a_subject_alone_is_no_legacy_key():
    assert login_identity(login(iss=ISSUER, sub="alice")).legacy is None


# --- proxies -------------------------------------------------------------------------------


def test_a_proxy_email_is_in_lower_case():
    assert proxied("USER@example.com").owner == proxied("user@example.com").owner
    assert proxied("USER@example.com").owner == "email:user@example.com"
    assert proxied("Élodie@Example.fr").owner == "email:élodie@example.fr"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("bob@faß.de", "bob@fass.de"),  # two domains, one if case-folded
        ("ὀδυσσεύς@example.gr", "ὀδυσσεύσ@example.gr"),  # a final sigma, folded to σ
    ],
)
def test_two_email_addresses_are_never_one_owner(one, other):
    assert proxied(one).owner != proxied(other).owner
    verified = {"email_verified": True}
    assert (
        login_identity(login(email=one, **verified)).owner
        != login_identity(login(email=other, **verified)).owner
    )


def test_a_proxy_value_under_another_key_is_kept_as_sent():
    assert proxied("Alice", key="name") == Identity("user:Alice", "Alice")
    assert proxied("alice", key="name").owner != proxied("Alice", key="name").owner
    assert proxied("bob", key="x_login") == Identity("user:bob", None)  # older versions: local


def test_a_proxy_value_local_is_never_the_local_owner():
    for key in ("email", "user", "name"):
        identity = proxied("local", key=key)
        assert identity.owner != LOCAL_OWNER and identity.owner.endswith(":local")
        assert identity.legacy is None  # the single-user chats stay where they are


def test_a_missing_or_blank_proxy_header_names_nobody():
    assert proxied(None) is None  # Streamlit's value for a mapped header that is missing
    assert proxied("  ") is None
    assert proxy_identity({}, ["email"]) is None
    assert proxy_identity({"email": "a@example.com"}, []) is None  # not a mapped key


def test_a_proxy_prefers_the_keys_older_versions_tried_first():
    user = {"name": "Alice Smith", "email": "alice@example.com", "zz": "z"}
    assert proxy_identity(user, ["zz", "name", "email"]).owner == "email:alice@example.com"
    assert proxy_identity({"zz": "z", "aa": "a"}, ["zz", "aa"]).owner == "user:a"
    assert IDENTITY_KEYS[0] == "email"


# --- keys ----------------------------------------------------------------------------------


def test_long_identities_sharing_a_320_character_prefix_get_different_keys():
    prefix = "a" * 320
    one, two = proxied(prefix + "b" * 80, key="user"), proxied(prefix + "c" * 80, key="user")
    assert one.owner != two.owner
    assert one.owner.startswith("sha256:") and len(one.owner) == len("sha256:") + 64
    assert (one.legacy, two.legacy) == (None, None)  # older versions gave both `prefix`


def test_keys_up_to_the_limit_are_kept_and_longer_ones_hashed():
    fits = "b" * (MAX_KEY_CHARS - len("user:"))
    assert owner_key("user", fits) == "user:" + fits
    assert owner_key("user", fits + "b").startswith("sha256:")
    assert owner_key("user", fits + "b") == owner_key("user", fits + "b")  # stable


def test_a_long_login_is_hashed_too():
    identity = login_identity(login(iss=ISSUER, sub="s" * 400))
    assert identity.owner.startswith("sha256:")
    assert identity.owner != login_identity(login(iss=ISSUER, sub="s" * 401)).owner


def test_text_a_database_cannot_hold_is_hashed():
    assert owner_key("user", "nul\x00byte").startswith("sha256:")
    assert owner_key("user", "lone\ud800").startswith("sha256:")


def test_the_kinds_of_key_never_meet():
    same = "alice@example.com"
    keys = {
        proxied(same).owner,
        proxied(same, key="user").owner,
        login_identity(login(iss=same, sub=same)).owner,
        owner_key("sha256", same),
        LOCAL_OWNER,
    }
    assert len(keys) == 5


# --- legacy keys ---------------------------------------------------------------------------


def test_legacy_key_is_the_value_older_versions_stored():
    assert proxied("  Alice@Example.com ").legacy == "Alice@Example.com"  # stripped, case kept
    assert proxied("x" * 320, key="user").legacy == "x" * 320


@pytest.mark.parametrize("value", ["oidc:https://idp#42", "email:bob@example.com", "user:bob"])
def test_a_legacy_value_shaped_like_a_new_key_is_never_handed_over(value):
    # It may be another person's owner key: taking it would move their chats.
    assert proxied(value, key="name").legacy is None
