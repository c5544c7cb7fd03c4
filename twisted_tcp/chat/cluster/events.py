"""
The delivery of one entry of a room's log to this node's members of the room: what
each kind of entry (L{Kind}) shows them. Every node delivers every entry, in the
log's order; what differs is only which of its own members an entry leaves out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from twisted_tcp.chat import texts
from twisted_tcp.chat.cluster.schema import Field, Kind
from twisted_tcp.chat.interfaces import ChatMember
from twisted_tcp.chat.names import nick_key
from twisted_tcp.chat.room import Room


def deliver(
    room: Room,
    fields: dict[str, str],
    *,
    node: str,
    members: Mapping[str, ChatMember],
    former: Collection[str],
) -> None:
    """
    Deliver an entry of C{room}'s log.

    @param node: this node's id.
    @param members: this node's members, by L{nick_key}.
    @param former: the keys of the nicks this node's members had before it renamed
        them (their nick was taken while it was away).
    """
    if Field.POPULATION in fields:
        room.population = int(fields[Field.POPULATION])
    kind, text = fields.get(Field.KIND), fields.get(Field.TEXT, "")
    if kind == Kind.MESSAGES:
        # The messages posted together: one line each (see scripts.POST).
        for line in text.split("\n"):
            room.post(line)
    elif kind == Kind.NOTICE:
        room.post(text)
    elif kind == Kind.TOPIC:
        room.topic = fields.get(Field.TOPIC, "")
        room.post(text)
    elif kind == Kind.ARRIVAL:
        nick = fields.get(Field.NICK, "")
        here = members.get(nick_key(nick)) if fields.get(Field.ORIGIN) == node else None
        room.announce_join(nick, exclude=here)
    elif kind == Kind.BACK:
        _back(room, fields, node, members)
    elif kind == Kind.DEPARTURE:
        nick = fields.get(Field.NICK, "")
        # This node retired (declared lost, or stopping): its members who are
        # still here did not go anywhere, as far as the others here know.
        here = members.get(nick_key(nick))
        mine = here is not None or nick_key(nick) in former
        if fields.get(Field.ORIGIN) != node or not mine:
            # A member of this node moving to another room is still in this
            # one until its node admits it there: its departure is the others'.
            room.announce_departure(nick, text, exclude=here)


def _back(
    room: Room, fields: dict[str, str], node: str, members: Mapping[str, ChatMember]
) -> None:
    """
    A node's member re-asserted after the node was away (see L{node_scripts.REASSERT}):
    the others saw it leave (the node was lost), or its nick was taken and it
    has a new one. Its own node's members saw neither: only the rename.
    """
    nick, was = fields.get(Field.NICK, ""), fields.get(Field.FORMER, "")
    renamed = texts.renamed_while_away(was, nick)
    if fields.get(Field.ORIGIN) == node:
        if nick != was:
            member = members.get(nick_key(nick)) or members.get(nick_key(was))
            room.post(renamed, exclude=member)
    elif fields.get(Field.WAS_LOST):
        room.announce_join(nick)
    elif nick != was:
        room.post(renamed)
