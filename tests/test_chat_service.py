"""
Tests for L{twisted_tcp.chat.service}: rooms and their commands, per-room history,
the arrival grace, and the cost of membership churn, through members' protocols over
in-memory transports.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

from twisted_tcp.chat.listing import MAX_LISTED
from twisted_tcp.chat.settings import ARRIVAL_GRACE
from twisted_tcp.chat.texts import ROOM_RULE

from .chat_support import ChatHarness, lines, say, take
from .support import splits


@pytest.fixture
def chat() -> ChatHarness:
    return ChatHarness()


def test_join_moves_a_member_and_tells_both_rooms(chat: ChatHarness) -> None:
    """/join leaves the current room for the new one; each room hears of it."""
    (alice, alice_out), (bob, bob_out), (carol, carol_out) = (
        chat.join(),
        chat.join(),
        chat.join(),
    )
    say(bob, "/join #rust")
    take(alice_out), take(bob_out), take(carol_out)
    say(alice, "/nick alice", "/join #Rust")
    assert lines(alice_out) == [
        "* guest-1 is now known as alice",
        "* you are now in #rust; 2 here",
    ]
    assert lines(bob_out) == ["* alice joined #rust"]
    assert lines(carol_out) == [
        "* guest-1 is now known as alice",
        "* alice left #lobby (joined #rust)",
    ]
    assert alice.room is bob.room is not carol.room


def test_messages_stay_in_their_room(chat: ChatHarness) -> None:
    """A message, an action and a rename reach the sender's room only."""
    (alice, alice_out), (bob, bob_out), (_, carol_out) = (
        chat.join(),
        chat.join(),
        chat.join(),
    )
    say(alice, "/join #a")
    say(bob, "/join #a")
    take(alice_out), take(bob_out), take(carol_out)
    say(alice, "secret", "/me whispers", "/nick al")
    stamp = chat.stamp()
    expected = [
        f"[{stamp}] <guest-1> secret",
        f"[{stamp}] * guest-1 whispers",
        "* guest-1 is now known as al",
    ]
    assert lines(alice_out) == expected
    assert lines(bob_out) == expected
    assert lines(carol_out) == []


def test_part_returns_to_the_default_room(chat: ChatHarness) -> None:
    """/part goes back to the default room; in it, /part is an error."""
    (alice, alice_out), (_, bob_out) = chat.join(), chat.join()
    say(alice, "/join #side")
    take(alice_out), take(bob_out)
    say(alice, "/part")
    assert lines(alice_out) == ["* you are now in #lobby; 2 here"]
    assert lines(bob_out) == ["* guest-1 joined #lobby"]
    say(alice, "/part")
    assert lines(alice_out) == ["error: you are in the default room #lobby"]


def test_empty_room_disappears_but_not_the_default(chat: ChatHarness) -> None:
    """A room nobody is in is gone from /rooms; the default room always stays."""
    alice, alice_out = chat.join()
    say(alice, "/join #gone", "/topic doomed", "/part")
    assert set(chat.chat.rooms) == {"#lobby"}
    take(alice_out)
    say(alice, "/join #gone")
    # A new room of the same name: no old topic.
    assert lines(alice_out) == ["* you are now in #gone; 1 here"]
    say(alice, "/part")
    assert set(chat.chat.rooms) == {"#lobby"}


def test_rooms_lists_rooms_with_counts_and_topics(chat: ChatHarness) -> None:
    """/rooms lists every room, its member count and topic, by name."""
    (alice, alice_out), (bob, _), (_, _) = chat.join(), chat.join(), chat.join()
    say(bob, "/join #zeta", "/topic last letter")
    say(alice, "/join #Alpha")
    take(alice_out)
    say(alice, "/rooms")
    assert lines(alice_out) == [
        "* 3 rooms:",
        "*   #Alpha (1)",
        "*   #lobby (1)",
        "*   #zeta (1): last letter",
    ]


def test_topic_shown_set_and_shown_on_join(chat: ChatHarness) -> None:
    """/topic shows or sets the topic; whoever joins later is shown it."""
    (alice, alice_out), (bob, bob_out) = chat.join(), chat.join()
    say(alice, "/join #t")
    take(alice_out)
    say(alice, "/topic")
    assert lines(alice_out) == ["* #t has no topic"]
    say(alice, "/topic release on Friday")
    assert lines(alice_out) == ["* guest-1 set the topic of #t: release on Friday"]
    take(bob_out)
    say(bob, "/join #t")
    assert lines(bob_out) == [
        "* you are now in #t; 2 here",
        "* topic of #t: release on Friday",
    ]


def test_who_lists_the_current_room_only(chat: ChatHarness) -> None:
    """/who lists the members of one's own room."""
    (alice, alice_out), (bob, _), (_, _) = chat.join(), chat.join(), chat.join()
    say(alice, "/join #two")
    say(bob, "/join #two")
    take(alice_out)
    say(alice, "/who")
    stamp = chat.stamp()
    assert lines(alice_out) == [
        "* 2 in #two:",
        f"*   guest-1 (since {stamp})",
        f"*   guest-2 (since {stamp})",
    ]


def test_private_message_reaches_another_room(chat: ChatHarness) -> None:
    """/msg reaches a nick in any room; the sender sees its copy."""
    (alice, alice_out), (bob, bob_out) = chat.join(), chat.join()
    say(bob, "/join #elsewhere", "/nick bob")
    take(alice_out), take(bob_out)
    say(alice, "/msg BOB psst")
    stamp = chat.stamp()
    assert lines(bob_out) == [f"[{stamp}] *guest-1* psst"]
    assert lines(alice_out) == [f"[{stamp}] -> *bob* psst"]


def test_private_message_to_oneself_shows_both_lines(chat: ChatHarness) -> None:
    """A /msg to oneself shows the incoming line and the sent copy."""
    alice, alice_out = chat.join()
    take(alice_out)
    say(alice, "/msg guest-1 note to self")
    stamp = chat.stamp()
    assert lines(alice_out) == [
        f"[{stamp}] *guest-1* note to self",
        f"[{stamp}] -> *guest-1* note to self",
    ]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "error: usage: /join #ROOM"),
        ("rust", "error: a room name is # then 1-30 ASCII letters, digits, _ or -"),
        ("#", "error: a room name is # then 1-30 ASCII letters, digits, _ or -"),
        ("#a b", "error: a room name is # then 1-30 ASCII letters, digits, _ or -"),
        (
            "#" + "x" * 31,
            "error: a room name is # then 1-30 ASCII letters, digits, _ or -",
        ),
        ("#café", "error: a room name is # then 1-30 ASCII letters, digits, _ or -"),
        ("#LOBBY", "error: you are already in #lobby"),
    ],
)
def test_bad_join(chat: ChatHarness, name: str, error: str) -> None:
    """A bad or useless /join gets an error for the sender alone; nothing moves."""
    (alice, alice_out), (_, bob_out) = chat.join(), chat.join()
    take(alice_out), take(bob_out)
    say(alice, f"/join {name}")
    assert lines(alice_out) == [error]
    assert lines(bob_out) == []
    assert set(chat.chat.rooms) == {"#lobby"}


def test_history_is_per_room_and_replayed_on_join() -> None:
    """Each room keeps its own last N messages, shown to whoever joins it."""
    chat = ChatHarness(history=2)
    alice, _ = chat.join()
    say(alice, "lobby one", "/join #b", "b one", "b two", "b three", "/part")
    bob, bob_out = chat.join()
    stamp = chat.stamp()
    assert lines(bob_out)[1:] == [f"[{stamp}] <guest-1> lobby one"]
    say(bob, "/join #b")
    assert lines(bob_out) == [
        "* you are now in #b; 1 here",
        f"[{stamp}] <guest-1> b two",
        f"[{stamp}] <guest-1> b three",
    ]


def test_join_announced_after_the_grace() -> None:
    """A newcomer that says nothing is announced once the arrival grace is over."""
    chat = ChatHarness(arrival_grace=ARRIVAL_GRACE)
    (_, alice_out), (_, bob_out) = chat.join(), chat.join()
    take(alice_out), take(bob_out)
    chat.clock.advance(ARRIVAL_GRACE / 2)
    assert lines(alice_out) == []
    chat.clock.advance(ARRIVAL_GRACE / 2)
    # Both arrived together: each sees the other announced, neither itself.
    assert lines(alice_out) == ["* guest-2 joined #lobby"]
    assert lines(bob_out) == ["* guest-1 joined #lobby"]


def test_first_nick_applies_before_the_join_is_announced() -> None:
    """A client naming itself at once is announced under that nick, never as a
    guest, and the others see no rename."""
    chat = ChatHarness(arrival_grace=ARRIVAL_GRACE)
    (_, alice_out), (bob, bob_out) = chat.join(), chat.join()
    take(alice_out), take(bob_out)
    say(bob, "/nick bob")
    assert lines(bob_out) == ["* guest-2 is now known as bob"]
    assert lines(alice_out) == ["* bob joined #lobby"]
    chat.clock.advance(ARRIVAL_GRACE)
    assert lines(alice_out) == []


def test_taken_first_nick_still_announces_the_guest() -> None:
    """A refused first /nick gets the error; the join is announced as the guest."""
    chat = ChatHarness(arrival_grace=ARRIVAL_GRACE)
    alice, alice_out = chat.join()
    say(alice, "/nick alice")
    chat.clock.advance(ARRIVAL_GRACE)
    bob, bob_out = chat.join()
    take(alice_out), take(bob_out)
    say(bob, "/nick ALICE")
    assert lines(bob_out) == ["error: the nick ALICE is taken by alice"]
    chat.clock.advance(ARRIVAL_GRACE)
    assert lines(alice_out) == ["* guest-2 joined #lobby"]


def test_member_gone_within_the_grace_is_never_announced() -> None:
    """A client that leaves before its join was announced leaves silently."""
    chat = ChatHarness(arrival_grace=ARRIVAL_GRACE)
    (_, alice_out), (_, bob_out) = chat.join(), chat.join()
    take(alice_out)
    bob_out.loseConnection()
    chat.clock.advance(ARRIVAL_GRACE * 2)
    assert lines(alice_out) == []
    assert chat.clock.getDelayedCalls() == []


def test_large_room_summarises_joins() -> None:
    """Past --announce-limit, joins are summed up once per period."""
    chat = ChatHarness(announce_limit=2)
    watcher, watcher_out = chat.join()
    for _ in range(4):
        chat.join()
    assert lines(watcher_out)[1:] == ["* guest-2 joined #lobby"]
    chat.clock.advance(10)
    assert lines(watcher_out) == ["* 3 joined, 0 left #lobby in the last 10 s; 5 here"]
    del watcher


def test_churn_lines_grow_linearly_with_members() -> None:
    """
    Joining and leaving N members of one room sends a number of lines that grows
    with N, not N squared.
    """

    def churn_lines(count: int) -> int:
        chat = ChatHarness()
        clients = [chat.join() for _ in range(count)]
        lines_sent = 0
        for _, transport in clients:
            lines_sent += len(take(transport).split(b"\r\n")) - 1
        for _, transport in clients:
            transport.loseConnection()
            chat.clock.advance(0)
        chat.clock.advance(10)
        for _, transport in clients:
            lines_sent += len(take(transport).split(b"\r\n")) - 1
        return lines_sent

    small, large = churn_lines(1000), churn_lines(2000)
    assert large < 2.2 * small


def test_stalled_member_dropped_while_moving() -> None:
    """A member whose queue overflows with its old room's last lines as it moves is
    dropped there, and never enters the new room."""
    chat = ChatHarness(max_send_queue=100)
    (alice, _), (bob, bob_out) = chat.join(), chat.join()
    alice.pauseProducing()
    say(bob, "x" * 80, "y" * 80)  # Pending for alice, over her bound.
    say(alice, "/join #new")
    assert alice.transport.disconnected  # type: ignore[attr-defined]
    assert set(chat.chat.rooms) == {"#lobby"}
    assert "guest-1" not in chat.chat.members
    assert lines(bob_out)[-1] == "* guest-1 dropped (send queue exceeded)"


def test_member_dropped_by_its_move_notice_is_in_no_room() -> None:
    """A member whose queue overflows with the "you are now in" line is dropped and
    left behind nowhere: the room it was moving to disappears, empty."""
    chat = ChatHarness(max_send_queue=200)
    (alice, alice_out), (bob, bob_out) = chat.join(), chat.join()
    take(alice_out), take(bob_out)
    alice.pauseProducing()
    say(bob, "x" * 140)  # Queues 174 bytes for alice: the notice takes her past 200.
    take(bob_out)
    say(alice, "/join #new")
    assert alice.transport.disconnected  # type: ignore[attr-defined]
    assert set(chat.chat.rooms) == {"#lobby"}
    assert list(chat.chat.rooms["#lobby"].members) == [bob]
    assert alice.room is None
    say(bob, "/join #new", "/who")
    assert lines(bob_out)[-2:] == [
        "* 1 in #new:",
        f"*   guest-2 (since {chat.stamp()})",
    ]


def test_joining_a_room_whose_last_member_is_dropped_then() -> None:
    """If the lines a room still owes its members drop the last of them as someone
    joins, the room ends and the newcomer starts it anew: it is never left alone in
    a room that no longer exists, where no one else could reach it."""
    chat = ChatHarness(max_send_queue=100)
    (alice, alice_out), (bob, bob_out), (carol, carol_out) = (
        chat.join(),
        chat.join(),
        chat.join(),
    )
    say(alice, "/join #b", "/topic old")
    take(alice_out), take(bob_out), take(carol_out)
    alice.pauseProducing()
    # 75 bytes queued for alice; the notice of bob's leaving (35 more) is still
    # owed to her when carol joins.
    say(bob, "/join #b", "x" * 20, "/join #lobby")
    say(carol, "/join #b")
    assert alice.transport.disconnected  # type: ignore[attr-defined]
    assert lines(carol_out)[-1] == "* you are now in #b; 1 here"
    assert chat.chat.rooms["#b"] is carol.room
    say(bob, "/join #B", "hello")
    assert lines(carol_out) == [
        "* guest-2 joined #b",
        f"[{chat.stamp()}] <guest-2> hello",
    ]


def test_member_dropped_by_a_room_history_is_not_announced_there() -> None:
    """A member dropped while a room's history is replayed to it never joined it:
    the room is told of the drop, not of a join after it."""
    chat = ChatHarness(max_send_queue=300, history=5)
    (alice, alice_out), (bob, bob_out) = chat.join(), chat.join()
    say(bob, "/join #busy", *["y" * 100] * 3)
    take(alice_out), take(bob_out)
    alice.pauseProducing()
    say(alice, "/join #busy")
    assert alice.transport.disconnected  # type: ignore[attr-defined]
    assert lines(bob_out) == ["* guest-1 dropped (send queue exceeded)"]
    assert list(chat.chat.rooms["#busy"].members) == [bob]


def test_rooms_answer_fits_an_asker_that_is_not_reading() -> None:
    """
    /rooms lists at most MAX_LISTED rooms, the most crowded, with topics cut short,
    then says how many more there are (the first line counts the lines that
    follow): however many rooms and long topics there
    are, the answer fits in the send queue of an asker that is not reading right
    now, who is not dropped for asking.
    """
    chat = ChatHarness(max_send_queue=150_000)
    asker, asker_out = chat.join()
    crowd, crowd_out = chat.join()
    say(crowd, "/join #crowded")
    for n in range(MAX_LISTED + 100):
        other, _ = chat.join()
        say(other, f"/join #r{n:04}", "/topic " + "t" * 500)
    say(asker, "/join #crowded")
    take(asker_out)
    asker.pauseProducing()
    say(asker, "/rooms")
    assert not asker.transport.disconnected  # type: ignore[attr-defined]
    asker.resumeProducing()
    listing = lines(asker_out)
    assert len(listing) == MAX_LISTED + 2
    assert listing[:3] == [
        f"* {MAX_LISTED} rooms:",
        "*   #crowded (2)",
        "*   #r0000 (1): " + "t" * 77 + "...",
    ]
    assert listing[-2].startswith(f"*   #r{MAX_LISTED - 2:04} (1): ")
    assert listing[-1] == "* ... and 102 more rooms, not listed"
    del crowd_out


def test_who_lists_at_most_max_listed_members() -> None:
    """/who in a room of more than MAX_LISTED members lists the first of them by
    nick, the first line counting the lines that follow, then says how many more
    there are."""
    chat = ChatHarness()
    members = [chat.join() for _ in range(MAX_LISTED + 5)]
    asker, asker_out = members[0]
    take(asker_out)
    say(asker, "/who")
    listing = lines(asker_out)
    assert len(listing) == MAX_LISTED + 2
    assert listing[0] == f"* {MAX_LISTED} in #lobby:"
    assert listing[1] == f"*   guest-1 (since {chat.stamp()})"
    assert listing[-1] == "* ... and 5 more, not listed"


def test_who_never_lists_a_member_dropped_by_its_own_flush() -> None:
    """A member thrown out by the delivery that /who makes first is not listed."""
    chat = ChatHarness(max_send_queue=100)
    (alice, alice_out), (bob, bob_out), (carol, carol_out) = (
        chat.join(),
        chat.join(),
        chat.join(),
    )
    take(alice_out), take(bob_out), take(carol_out)
    alice.pauseProducing()
    say(bob, "x" * 100)  # Not delivered yet: over alice's bound once it is.
    say(carol, "/who")
    assert lines(carol_out) == [
        f"[{chat.stamp()}] <guest-2> {'x' * 100}",
        "* guest-1 dropped (send queue exceeded)",
        "* 2 in #lobby:",
        f"*   guest-2 (since {chat.stamp()})",
        f"*   guest-3 (since {chat.stamp()})",
    ]


#: A hostile session: odd spacing and case in commands, control, bidi and invalid
#: bytes in names and topics, an over-long line, CRLF and LF, // and quit variants.
HOSTILE_SESSION = b"".join(
    [
        b"/nick  Alice \r\n",
        b"/JOIN   #Rust\n",
        b"/join #rust extra words\n",
        b"/join #rust\xe2\x80\xae\n",
        b"/topic \xe2\x80\xaebidi \x1b[31mtopic\x07\r\n",
        b"/topic     \n",
        b"/join #\xff\xfe\n",
        b"//\n",
        b"//slash\n",
        b"/me \x00waves\there\n",
        b"y" * 1100 + b"\n",
        b"/msg BOB  hi\xc2\x85 there \n",
        b"/Part extra\n",
        b"/part\n",
        b"/\n",
        b"quit now\n",
        b"  QUIT  \r\n",
        b"never seen\n",
    ]
)


def hostile_transcripts(chunks: list[bytes]) -> tuple[list[str], list[str]]:
    """What the hostile member and a bystander see when the session arrives in
    C{chunks}."""
    chat = ChatHarness()
    (bob, bob_out), (alice, alice_out) = chat.join(), chat.join()
    say(bob, "/nick bob")
    take(alice_out), take(bob_out)
    for chunk in chunks:
        alice.dataReceived(chunk)
    return lines(alice_out), lines(bob_out)


def test_hostile_session_transcript() -> None:
    """Odd spacing and case are forgiven, extra words and bad names are refused
    with one error line each, and nothing unsafe reaches anyone."""
    alice, bob = hostile_transcripts([HOSTILE_SESSION])
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(0))
    assert alice == [
        "* guest-2 is now known as Alice",
        "* you are now in #Rust; 1 here",
        f"error: {ROOM_RULE}",
        "error: you are already in #Rust",
        "* Alice set the topic of #Rust: bidi [31mtopic",
        "* topic of #Rust: bidi [31mtopic",
        f"error: {ROOM_RULE}",
        f"[{stamp}] <Alice> /",
        f"[{stamp}] <Alice> /slash",
        f"[{stamp}] * Alice waves here",
        "error: line too long (max 1024 bytes: about 341 CJK characters)",
        f"[{stamp}] -> *bob* hi there",
        "* you are now in #lobby; 2 here",
        "error: you are in the default room #lobby",
        "error: unknown command / (try /help)",
        f"[{stamp}] <Alice> quit now",
        "* Bye",
    ]
    assert bob == [
        "* guest-2 is now known as Alice",
        "* Alice left #lobby (joined #Rust)",
        f"[{stamp}] *Alice* hi there",
        "* Alice joined #lobby",
        f"[{stamp}] <Alice> quit now",
        "* Alice left #lobby (quit)",
    ]


@given(splits(HOSTILE_SESSION))
@settings(max_examples=30)
def test_hostile_session_whatever_the_split(chunks: list[bytes]) -> None:
    """The session gives the same transcripts whole, byte by byte and cut anywhere."""
    whole = hostile_transcripts([HOSTILE_SESSION])
    assert hostile_transcripts(chunks) == whole
    bytewise = [HOSTILE_SESSION[n : n + 1] for n in range(len(HOSTILE_SESSION))]
    assert hostile_transcripts(bytewise) == whole
