"""
IRC messages on the wire (RFC 1459 framing with the IRCv3 message-tags prefix):
L{parse} reads one line, L{Message.serialise} writes one. Lines are text here;
bytes are framed and decoded by the server before they get this far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: Bytes of a line without its tags, CRLF included (RFC 1459).
MAX_LINE: Final = 512
#: Bytes the tags of a client's line may take on top of L{MAX_LINE} (IRCv3).
MAX_TAGS: Final = 4096
#: Most parameters a message may have (RFC 1459).
MAX_PARAMS: Final = 15

_TAG_ESCAPES: Final = {";": r"\:", " ": r"\s", "\\": "\\\\", "\r": r"\r", "\n": r"\n"}
_TAG_UNESCAPES: Final = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


class MalformedMessageError(ValueError):
    """A line that is no IRC message; the text says why."""


@dataclass(frozen=True)
class Message:
    """
    One IRC message.

    @ivar command: a command name as given (upper-cased by L{parse}) or a numeric.
    @ivar params: its parameters, the last of which may contain spaces.
    @ivar prefix: who it is from (C{nick!user@host} or a server's name), or C{""}.
    @ivar tags: its IRCv3 tags, unescaped; a tag without a value has C{""}.
    """

    command: str
    params: tuple[str, ...] = ()
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def serialise(self) -> str:
        """The message as one line, without CRLF; the last parameter is trailing."""
        parts = []
        if self.tags:
            parts.append("@" + ";".join(_tag(k, v) for k, v in self.tags.items()))
        if self.prefix:
            parts.append(":" + self.prefix)
        parts.append(self.command)
        if self.params:
            *middle, last = self.params
            parts.extend(middle)
            parts.append(":" + last)
        return " ".join(parts)


def parse(line: str) -> Message:
    """
    Read one line (without CRLF) as a message.

    @raise MalformedMessageError: if it has no command, or too many parameters.
    """
    tags: dict[str, str] = {}
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        tags = _read_tags(raw)
        rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    head, colon, trailing = rest.partition(" :")
    if not colon and rest.startswith(":"):
        head, trailing, colon = "", rest[1:], ":"
    words = [word for word in head.split(" ") if word]
    if not words:
        raise MalformedMessageError("no command")
    command, *params = words
    if not (command.isalpha() or (command.isdigit() and len(command) == 3)):
        raise MalformedMessageError(f"not a command: {command[:20]!r}")
    if colon:
        params.append(trailing)
    if len(params) > MAX_PARAMS:
        raise MalformedMessageError("too many parameters")
    return Message(command.upper(), tuple(params), prefix, tags)


def _read_tags(raw: str) -> dict[str, str]:
    tags = {}
    for item in raw.split(";"):
        if item:
            key, _, value = item.partition("=")
            tags[key] = _unescape(value)
    return tags


def _unescape(value: str) -> str:
    out = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_TAG_UNESCAPES.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def _tag(key: str, value: str) -> str:
    if not value:
        return key
    return key + "=" + "".join(_TAG_ESCAPES.get(char, char) for char in value)


def split_line(line: bytes) -> tuple[bytes, bytes]:
    """A raw line's tags section (C{b""} if none, with its C{@}) and the rest."""
    if line.startswith(b"@"):
        tags, _, rest = line.partition(b" ")
        return tags, rest.lstrip(b" ")
    return b"", line
