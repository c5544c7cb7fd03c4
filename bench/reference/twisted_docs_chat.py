"""
Reference: the chat server of Twisted's documentation (a LineReceiver broadcasting
each line to every other client, shared state on the factory), sending to the sender
too so it does the same work as the others.

    python twisted_docs_chat.py PORT
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.internet.interfaces import ITransport
from twisted.internet.protocol import ServerFactory
from twisted.protocols.basic import LineReceiver


class Chat(LineReceiver):
    delimiter = b"\n"
    transport: ITransport

    def __init__(self, users: dict[int, Chat]) -> None:
        self.users = users

    def connectionMade(self) -> None:
        self.users[id(self)] = self

    def connectionLost(self, reason: object = None) -> None:
        self.users.pop(id(self), None)

    def lineReceived(self, line: bytes) -> None:
        message = b"<" + str(id(self)).encode() + b"> " + line + b"\r\n"
        for user in self.users.values():
            user.transport.write(message)


class ChatFactory(ServerFactory):
    def __init__(self) -> None:
        self.users: dict[int, Chat] = {}

    def buildProtocol(self, addr: object) -> Chat:
        return Chat(self.users)


if __name__ == "__main__":
    reactor.listenTCP(
        int(sys.argv[1]), ChatFactory(), backlog=4096, interface="127.0.0.1"
    )
    print("listening", flush=True)
    reactor.run()
