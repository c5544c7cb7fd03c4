"""Reading the chat's catalogue lines back as events, for IRC members."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp.chat import texts
from twisted_tcp.chat.irc import reading

nicks = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,29}", fullmatch=True)
rooms = st.from_regex(r"#[A-Za-z0-9_-]{1,30}", fullmatch=True)
#: What a member may say: anything printable on one line.
said = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")))
stamps = st.from_regex(r"[0-9/: A-Za-z]{0,20}", fullmatch=True)


@given(stamps, nicks, said)
def test_messages(stamp: str, nick: str, text: str) -> None:
    """Said, emote and private lines are read back whole, whatever was said in them."""
    assert reading.read(texts.said(stamp, nick, text)) == reading.Said(
        stamp, nick, text
    )
    assert reading.read(texts.emote(stamp, nick, text)) == reading.Emote(
        stamp, nick, text
    )
    assert reading.read(texts.private_from(stamp, nick, text)) == reading.PrivateFrom(
        stamp, nick, text
    )
    assert reading.read(texts.private_to(stamp, nick, text)) == reading.PrivateTo(
        stamp, nick, text
    )


@given(nicks, nicks, rooms, said)
def test_notices(nick: str, other: str, room: str, text: str) -> None:
    """Every notice an IRC member shows as its own message is read back whole."""
    assert reading.read(texts.joined(nick, room)) == reading.Joined(nick, room)
    assert reading.read(texts.left(nick, room, text)) == reading.Left(nick, room, text)
    assert reading.read(texts.dropped(nick, text)) == reading.Dropped(nick, text)
    assert reading.read(texts.renamed(nick, other)) == reading.Renamed(nick, other)
    assert reading.read(texts.topic_set(nick, room, text)) == reading.TopicSet(
        nick, room, text
    )
    assert reading.read(texts.topic_of(room, text)) == reading.TopicOf(room, text)
    assert reading.read(texts.now_in(room, 3)) == reading.NowIn(room)
    assert reading.read(texts.who_entry(nick, text)) == reading.WhoEntry(nick)
    assert reading.read(texts.rooms_entry(room, 3, text)) == reading.RoomsEntry(
        room, 3, text
    )


@given(stamps, nicks, nicks, said)
def test_no_text_forges_a_line(stamp: str, nick: str, other: str, text: str) -> None:
    """What a member says after another nick's line is never read as that nick's."""
    for line in (
        texts.said(stamp, nick, f"] <{other}> {text}"),
        texts.said(stamp, nick, f"] * {other} {text}"),
        texts.emote(stamp, nick, f"] <{other}> {text}"),
    ):
        event = reading.read(line)
        assert isinstance(event, reading.Said | reading.Emote)
        assert event.nick == nick


def test_errors() -> None:
    """The errors that have an IRC numeric are told apart; others are notices."""
    assert reading.read_error(texts.nick_taken("ann", "Ann")) == reading.NickTaken(
        "ann"
    )
    assert reading.read_error(texts.no_such_nick("a b")) == reading.NoSuchNick("a b")
    assert reading.read_error(texts.already_in("#x")) == reading.AlreadyIn("#x")
    assert reading.read_error(texts.NOT_DELIVERED) == reading.Notice(
        texts.NOT_DELIVERED
    )


def test_stamp_rule() -> None:
    """A stamp format with ] cannot be read back; without, it can."""
    assert reading.stamp_problem("[%H]") is not None
    assert reading.stamp_problem("%Y/%m/%d %H:%M:%S") is None
