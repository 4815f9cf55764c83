"""Share links on both backends: audiences, revocation, guessed and foreign ids, the
snapshot, and continuing a shared chat in one's own history."""

import io

import pytest
from PIL import Image as Pillow

from chat_core.conversation import is_cut, model_view
from chat_core.errors import InvalidInputError, SessionNotFoundError, ShareLinkError
from chat_core.images import Image, prepare_image
from chat_core.store.shares import is_token
from chat_core.store.usage import Bands, UsageFilter

OWNER, VIEWER = "oidc:https://id.example#owner", "oidc:https://id.example#viewer"


def code_of(call) -> str:
    with pytest.raises(ShareLinkError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def shared_chat(store):
    session, _ = store.new_session(OWNER)
    store.start_turn(session, "what is a share link?")
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="A **read-only** copy.", status="complete")
    secret, _ = store.new_session(OWNER)
    store.start_turn(secret, "my other, private chat")
    private = store.begin_reply(secret)
    store.save_reply(secret, private.id, content="a private answer", status="complete")
    return store.get_session(OWNER, session.id), secret


def test_a_link_holds_the_current_branch_as_role_and_text(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    assert is_token(link.token) and len(link.token) >= 32
    opened = store.open_share(link.token, None)
    assert [(m.role, m.content) for m in opened.messages] == [
        ("user", "what is a share link?"),
        ("assistant", "A **read-only** copy."),
    ]
    assert (opened.title, opened.owner, opened.audience) == (session.title, OWNER, "anyone")


def test_the_snapshot_is_unchanged_by_later_messages(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    store.start_turn(session, "a later message")
    later = store.begin_reply(session)
    store.save_reply(session, later.id, content="a later answer", status="complete")
    store.rename(OWNER, session.id, "renamed later")
    opened = store.open_share(link.token, None)
    assert [m.content for m in opened.messages] == [
        "what is a share link?",
        "A **read-only** copy.",
    ]
    assert opened.title == "what is a share link?"
    newer = store.create_share(OWNER, session.id, "anyone")
    assert len(store.open_share(newer.token, None).messages) == 4


def test_anyone_signed_in_and_owner_only_audiences(store, shared_chat):
    session, _ = shared_chat
    public = store.create_share(OWNER, session.id, "anyone")
    members = store.create_share(OWNER, session.id, "signed_in")
    private = store.create_share(OWNER, session.id, "owner")
    for viewer in (None, "local", VIEWER, OWNER):
        assert store.open_share(public.token, viewer).messages
    assert store.open_share(members.token, VIEWER).messages
    assert store.open_share(members.token, OWNER).messages
    assert code_of(lambda: store.open_share(members.token, None)) == "share_sign_in"
    assert code_of(lambda: store.open_share(members.token, "local")) == "share_sign_in"
    assert store.open_share(private.token, OWNER).messages
    for viewer in (None, "local", VIEWER):
        assert code_of(lambda v=viewer: store.open_share(private.token, v)) == "share_unknown"


def test_a_revoked_link_says_so_and_stays_listed(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    revoked = store.revoke_share(OWNER, link.token)
    assert revoked.revoked
    assert code_of(lambda: store.open_share(link.token, VIEWER)) == "share_revoked"
    assert code_of(lambda: store.open_share(link.token, OWNER)) == "share_revoked"
    assert store.revoke_share(OWNER, link.token).revoked_at == revoked.revoked_at  # again
    listed = store.share_links(OWNER)
    assert [(x.token, x.revoked) for x in listed] == [(link.token, True)]
    assert listed[0].messages == ()


def test_a_revoked_link_says_so_before_asking_to_sign_in(store, shared_chat):
    session, _ = shared_chat
    members = store.create_share(OWNER, session.id, "signed_in")
    private = store.create_share(OWNER, session.id, "owner")
    for link in (members, private):
        store.revoke_share(OWNER, link.token)
    for viewer in (None, "local", VIEWER):
        assert code_of(lambda v=viewer: store.open_share(members.token, v)) == "share_revoked"
        # a private link of someone else stays unknown, revoked or not
        assert code_of(lambda v=viewer: store.open_share(private.token, v)) == "share_unknown"


def test_only_the_owner_lists_and_revokes(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    assert store.share_links(VIEWER) == []
    assert code_of(lambda: store.revoke_share(VIEWER, link.token)) == "share_unknown"
    assert not store.open_share(link.token, None).revoked
    other, _ = store.new_session(OWNER)
    store.start_turn(other, "second chat")
    answer = store.begin_reply(other)
    store.save_reply(other, answer.id, content="second answer", status="complete")
    store.create_share(OWNER, other.id, "owner")
    assert [x.session_id for x in store.share_links(OWNER, session_id=session.id)] == [session.id]
    assert len(store.share_links(OWNER)) == 2


@pytest.mark.parametrize("bulk", [False, True], ids=["one", "several"])
def test_deleting_a_chat_deletes_its_links(store, shared_chat, bulk):
    session, secret = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    kept = store.create_share(OWNER, secret.id, "anyone")
    assert store.delete_sessions(VIEWER, [session.id]) == 0  # not the viewer's to delete
    assert store.open_share(link.token, None).messages
    if bulk:
        assert store.delete_sessions(OWNER, [session.id]) == 1
    else:
        store.delete_session(OWNER, session.id)
    assert code_of(lambda: store.open_share(link.token, None)) == "share_unknown"
    assert [x.token for x in store.share_links(OWNER)] == [kept.token]
    assert store.open_share(kept.token, None).messages  # another chat's link stays


@pytest.mark.parametrize(
    "guess",
    ["", None, 42, "x", "../../etc/passwd", "' OR 1=1 --", "A" * 32, "é" * 32, "a" * 65],
)
def test_guessed_or_malformed_tokens_never_open(store, shared_chat, guess):
    session, _ = shared_chat
    store.create_share(OWNER, session.id, "anyone")
    assert code_of(lambda: store.open_share(guess, OWNER)) == "share_unknown"
    assert code_of(lambda: store.revoke_share(OWNER, guess)) == "share_unknown"


def test_a_chat_id_is_not_a_link(store, shared_chat):
    session, _ = shared_chat
    store.create_share(OWNER, session.id, "anyone")
    assert code_of(lambda: store.open_share(session.id, OWNER)) == "share_unknown"


def test_only_the_owner_can_share_a_chat(store, shared_chat):
    session, _ = shared_chat
    with pytest.raises(SessionNotFoundError):
        store.create_share(VIEWER, session.id, "anyone")
    with pytest.raises(SessionNotFoundError):
        store.create_share(OWNER, "no-such-chat", "anyone")
    with pytest.raises(ValueError):
        store.create_share(OWNER, session.id, "everybody")
    assert store.share_links(OWNER) == store.share_links(VIEWER) == []


def test_continuing_copies_the_snapshot_into_the_viewers_own_history(store, shared_chat):
    session, secret = shared_chat
    link = store.create_share(OWNER, session.id, "signed_in")
    copy = store.copy_share(link.token, VIEWER)
    assert copy.owner == VIEWER and copy.id != session.id and copy.title == session.title
    assert [(m.role, m.content) for m in store.get_messages(copy)] == [
        ("user", "what is a share link?"),
        ("assistant", "A **read-only** copy."),
    ]
    # the viewer reaches nothing of the owner's: not the chat, not the other one
    for chat in (session, secret):
        assert store.find_session(VIEWER, chat.id) is None
    assert [s.id for s in store.list_sessions(VIEWER)] == [copy.id]
    assert store.search(VIEWER, "private") == []
    # and the owner's chat is unchanged
    assert len(store.get_messages(session)) == 2
    assert code_of(lambda: store.copy_share(link.token, "local")) == "share_sign_in"


def test_a_continued_chat_keeps_cut_answers_and_adds_nothing_to_the_viewers_usage(store):
    session, _ = store.new_session(OWNER)
    for question, answer, status in (
        ("first", "a whole answer", "complete"),
        ("second", "half an ans", "interrupted"),
        ("third", "failed after a few", "error"),
    ):
        store.start_turn(session, question)
        reply = store.begin_reply(session, model="doubao-seed-1-6-251015")
        store.save_reply(
            session,
            reply.id,
            content=answer,
            status=status,
            usage={"prompt_tokens": 100, "completion_tokens": 20},
            latency_ms=900,
        )
    link = store.create_share(OWNER, session.id, "signed_in")
    copy = store.copy_share(link.token, VIEWER)
    answers = [m.status for m in store.get_messages(copy) if m.role == "assistant"]
    assert answers == ["complete", "interrupted", "interrupted"]
    counted = store.usage_groups(VIEWER, UsageFilter(), default_mode="off", bands=Bands())
    assert counted == []  # the owner's replies cost the viewer nothing
    owners = store.usage_groups(OWNER, UsageFilter(), default_mode="off", bands=Bands())
    assert sum(group.replies for group in owners) == 3


def test_a_snapshot_edited_by_hand_shows_as_empty(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    with store.backend.writing() as tx:
        tx.execute(
            "UPDATE share_link SET snapshot = ? WHERE token = ?", ['{"messages": 3', link.token]
        )
    assert store.open_share(link.token, None).messages == ()


def test_a_chat_with_nothing_to_show_is_not_shared_nor_continued(store, shared_chat):
    session, _ = shared_chat
    link = store.create_share(OWNER, session.id, "anyone")
    store.new_session(OWNER)  # the unused chat: one emptied now stays started
    for message in store.get_messages(session)[:1]:
        store.delete_message(session, message.id)
    with pytest.raises(InvalidInputError) as refused:
        store.create_share(OWNER, session.id, "anyone")
    assert refused.value.code == "share_nothing"
    # A link made before still opens and continues with what it held then.
    assert store.copy_share(link.token, VIEWER).title == session.title
    before = store.list_sessions(VIEWER)
    with store.backend.writing() as tx:  # a snapshot with nothing left to show
        tx.execute(
            "UPDATE share_link SET snapshot = ? WHERE token = ?",
            ['{"version": 1, "messages": []}', link.token],
        )
    with pytest.raises(InvalidInputError):
        store.copy_share(link.token, VIEWER)
    assert store.list_sessions(VIEWER) == before  # no empty chat made for the viewer


def picture(color: str, name: str) -> Image:
    out = io.BytesIO()
    Pillow.new("RGB", (30, 20), color).save(out, "PNG")
    return prepare_image(name, out.getvalue())


def answer(store, session, text: str, status: str = "complete", **kwargs) -> None:
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content=text, status=status, **kwargs)


def test_a_questions_images_are_shown_and_copied_and_an_image_alone_is_a_question(store):
    session, _ = store.new_session(OWNER)
    receipt, second = picture("red", "receipt.png"), picture("blue", "second.png")
    store.start_turn(session, "", images=[receipt])
    answer(store, session, "That receipt totals 42 yuan.")
    store.start_turn(session, "and this one?", images=[second])
    answer(store, session, "This one is 7 yuan.")
    link = store.create_share(OWNER, session.id, "signed_in")
    opened = store.open_share(link.token, VIEWER, with_images=True)
    assert [(m.role, m.content, m.images) for m in opened.messages] == [
        ("user", "", (receipt,)),
        ("assistant", "That receipt totals 42 yuan.", ()),
        ("user", "and this one?", (second,)),
        ("assistant", "This one is 7 yuan.", ()),
    ]
    copy = store.copy_share(link.token, VIEWER)
    copied = store.get_messages(copy)
    assert [(m.role, m.content) for m in copied] == [(m.role, m.content) for m in opened.messages]
    found = store.attachments(copy, [m.id for m in copied])
    assert [found.get(m.id) for m in copied] == [[receipt], None, [second], None]
    assert model_view(copied) == [(m.role, m.content) for m in copied]  # no answer lost


def test_a_message_the_owner_deletes_takes_its_images_out_of_the_link(store):
    session, _ = store.new_session(OWNER)
    question = store.start_turn(session, "what is this?", images=[picture("red", "a.png")])
    answer(store, session, "A red square.")
    link = store.create_share(OWNER, session.id, "anyone")
    store.new_session(OWNER)  # the unused chat: one emptied stays started
    store.delete_message(session, question.id)
    opened = store.open_share(link.token, None, with_images=True)
    assert [(m.content, m.images) for m in opened.messages] == [
        ("what is this?", ()),
        ("A red square.", ()),
    ]


def test_a_turn_without_an_answer_is_left_out_and_a_cut_answer_stays_continuable(store):
    session, _ = store.new_session(OWNER)
    store.start_turn(session, "failed question")
    answer(store, session, "", "error", error_code="service_error")
    store.start_turn(session, "cut question")
    answer(store, session, "w1 w2", finish_reason="length")
    store.start_turn(session, "still waiting")
    store.begin_reply(session)  # streaming: not part of the link
    link = store.create_share(OWNER, session.id, "signed_in")
    opened = store.open_share(link.token, VIEWER)
    assert [(m.role, m.content, m.finish_reason) for m in opened.messages] == [
        ("user", "cut question", None),
        ("assistant", "w1 w2", "length"),
    ]
    copied = store.get_messages(store.copy_share(link.token, VIEWER))
    assert [is_cut(m) for m in copied] == [False, True]


def test_an_owner_only_link_never_reads_images_for_another_viewer(store):
    session, _ = store.new_session(OWNER)
    store.start_turn(session, "private picture", images=[picture("red", "p.png")])
    answer(store, session, "seen")
    link = store.create_share(OWNER, session.id, "owner")
    assert code_of(lambda: store.open_share(link.token, VIEWER, with_images=True)) == (
        "share_unknown"
    )
