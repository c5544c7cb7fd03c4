"""
Text handling shared by the line-based servers and the clients: encodings, decoding
after framing, the sanitising that keeps a peer from forging lines or driving
other terminals, and the reason a connection failed, as the clients show it.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

CRLF = b"\r\n"

# C0 and C1 controls (ESC and DEL among them), Unicode format characters (bidirectional
# overrides and isolates, zero-width joiners and spaces, the BOM), and the line and
# paragraph separators, which some terminals and editors treat as line breaks.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

# IRC's formatting codes: bold, italics, underline, strike-through, monospace,
# reverse, reset, and colours with their numbers (C{\x03FG[,BG]}, C{\x04RRGGBB}).
_FORMATTING_CODES = "\x02\x1d\x1f\x1e\x11\x16\x0f\x03\x04"
_FORMATTING = re.compile(
    "[\x02\x1d\x1f\x1e\x11\x16\x0f]"
    "|\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    "|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
)

# A C1 control, or a byte 0x80-0x9F that is not part of valid UTF-8 (decoded as a
# lone surrogate by surrogateescape).
_C1 = re.compile("[\x80-\x9f\udc80-\udc9f]")


def check_encoding(name: str) -> str:
    """
    Return the canonical name of a text encoding usable on a line-framed stream.

    The encoding must exist and be ASCII-compatible for the bytes we frame on (LF, CR)
    and the ASCII replies we send, so UTF-16 and friends are refused. ASCII bytes must
    also decode as themselves: codecs that read escapes out of ASCII (UTF-7's
    C{+AAo-}, C{raw_unicode_escape}'s C{\\u000a}, IDNA, punycode) would turn plain
    ASCII into line breaks or other text, so they are refused too.

    @raise ValueError: with a message fit for a usage error.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    probe = "error: \r\n0123456789"
    try:
        ascii_compatible = probe.encode(info.name) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible")
    if not _ascii_decodes_as_itself(info.name):
        raise ValueError(
            f"encoding {name!r} reads escapes in plain ASCII (a line could hide a"
            " line break): use utf-8 or a fixed character set"
        )
    return info.name


#: ASCII that some codecs read as escapes of other characters (LF, mostly).
_ESCAPE_PROBES = (b"+AAo-", b"\\u000a", b"\\x0a", b"\\n", b"xn--a", b"a-b")


def _ascii_decodes_as_itself(encoding: str) -> bool:
    """Whether every escape probe decodes, in C{encoding}, to the same ASCII text."""
    for probe in _ESCAPE_PROBES:
        try:
            if probe.decode(encoding, "replace") != probe.decode("ascii"):
                return False
        except (UnicodeError, LookupError):
            return False
    return True


def decode(message: bytes, encoding: str) -> str:
    """Decode one framed message; invalid bytes become U+FFFD, never an error."""
    return message.decode(encoding, "replace")


def encode(text: str, encoding: str) -> bytes:
    """Encode a reply; characters the encoding lacks become C{?}, never an error."""
    return text.encode(encoding, "replace")


def sanitize(text: str) -> str:
    """
    Remove what could forge a line or drive a terminal: C0/C1 controls, ESC, DEL,
    bidirectional and zero-width formatting characters. A TAB becomes a space.
    """
    text = text.replace("\t", " ")
    if text.isprintable():
        return text
    return "".join(
        char for char in text if unicodedata.category(char) not in _UNSAFE_CATEGORIES
    )


def sanitize_keeping_formatting(text: str) -> str:
    """L{sanitize}, but IRC's formatting codes are kept (see L{strip_formatting})."""
    text = text.replace("\t", " ")
    if text.isprintable():
        return text
    return "".join(
        char
        for char in text
        if char in _FORMATTING_CODES
        or unicodedata.category(char) not in _UNSAFE_CATEGORIES
    )


def has_formatting(text: str) -> bool:
    """Whether C{text} holds an IRC formatting code."""
    return not text.isprintable() and _FORMATTING.search(text) is not None


def strip_formatting(text: str) -> str:
    """C{text} without its IRC formatting codes, colour numbers included."""
    return _FORMATTING.sub("", text) if has_formatting(text) else text


def neutralise_c1(data: bytes) -> bytes:
    """
    Bytes for a terminal with the C1 controls (U+0080 to U+009F, CSI U+009B among
    them) shown as C{\\x9b} instead of acted on: both as UTF-8 (C{c2 9b}) and as
    single bytes (C{9b}, which a terminal in an 8-bit mode takes as CSI). Valid
    UTF-8 text is kept, including characters whose bytes lie in 0x80-0x9F.
    """
    text = data.decode("utf-8", "surrogateescape")
    if text.isascii():
        return data
    return _C1.sub(_escape_c1, text).encode("utf-8", "surrogateescape")


def _escape_c1(match: re.Match[str]) -> str:
    return f"\\x{ord(match[0]) & 0xFF:02x}"


def connection_error_reason(error: Exception) -> str:
    """The useful part of a Twisted connection error's message."""
    return str(error).rstrip(".").rsplit(": ", 1)[-1]
