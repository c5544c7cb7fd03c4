"""
Tests for L{twisted_tcp._text}: encodings, lossless decoding, and sanitising.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp._text import (
    check_encoding,
    connection_error_reason,
    decode,
    encode,
    neutralise_c1,
    sanitize,
)


def test_check_encoding_canonical_name() -> None:
    """Known ASCII-compatible encodings are accepted under their canonical name."""
    assert check_encoding("UTF8") == "utf-8"
    assert check_encoding("GBK") == "gbk"
    assert check_encoding("latin-1") == "iso8859-1"


@pytest.mark.parametrize(
    "name", ["utf-16", "utf-32", "cp037", "unicode_escape", "punycode", "base64"]
)
def test_check_encoding_refuses_non_ascii_compatible(name: str) -> None:
    """Encodings that do not keep ASCII bytes as they are cannot frame lines."""
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        check_encoding(name)


@pytest.mark.parametrize(
    "name",
    ["utf-7", "UTF7", "raw_unicode_escape", "idna"],
)
def test_check_encoding_refuses_escaping_codecs(name: str) -> None:
    """Codecs that decode plain ASCII escapes into other text (UTF-7's +AAo- is a line
    feed) are refused, though they encode ASCII as ASCII."""
    with pytest.raises(ValueError, match="reads escapes in plain ASCII"):
        check_encoding(name)


def test_check_encoding_refuses_unknown() -> None:
    """An unknown encoding name is a clear error."""
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        check_encoding("klingon")


def test_decode_replaces_invalid_bytes() -> None:
    """Invalid bytes become U+FFFD instead of raising."""
    assert decode(b"ok\xff\xc3", "utf-8") == "ok\ufffd\ufffd"


def test_encode_replaces_unencodable() -> None:
    """Characters the encoding lacks become '?' instead of raising."""
    assert encode("née ☃", "ascii") == b"n?e ?"


@given(st.binary())
def test_decode_never_raises(data: bytes) -> None:
    """Any bytes decode, in UTF-8 and in GBK."""
    assert isinstance(decode(data, "utf-8"), str)
    assert isinstance(decode(data, "gbk"), str)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("tab\there", "tab here"),
        ("\x1b[2Jclear", "[2Jclear"),
        ("line\r\n* server shutting down", "line* server shutting down"),
        ("bell\x07del\x7fnul\x00", "belldelnul"),
        ("c1\x85\x9bcontrols", "c1controls"),
        ("bidi\u202eevil\u202c", "bidievil"),
        ("iso\u2066late\u2069", "isolate"),
        ("zero\u200bwidth\u200d\ufeff", "zerowidth"),
        ("sep\u2028ara\u2029tors", "separators"),
        ("keep 中文 and ñ and \u3000 space", "keep 中文 and ñ and \u3000 space"),
    ],
)
def test_sanitize(text: str, expected: str) -> None:
    """Controls, ESC, DEL, bidi and zero-width characters go; other text stays."""
    assert sanitize(text) == expected


@given(st.text())
def test_sanitized_text_is_one_safe_line(text: str) -> None:
    """Sanitised text never holds a line break, ESC, or a format character."""
    clean = sanitize(text)
    assert not any(char in clean for char in "\r\n\x1b\x7f\x85\u2028\u2029\u202e")
    assert sanitize(clean) == clean


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"X: a\xc2\x9b2Jb", b"X: a\\x9b2Jb"),
        (b"X: \x9b31m \x85", b"X: \\x9b31m \\x85"),
        (
            b"X: \xe2\x82\xac \xc3\xa9t\xc3\xa9 \xe9",
            b"X: \xe2\x82\xac \xc3\xa9t\xc3\xa9 \xe9",
        ),
        (b"plain", b"plain"),
    ],
)
def test_neutralise_c1(data: bytes, expected: bytes) -> None:
    """C1 controls, as UTF-8 or single bytes, are shown escaped; UTF-8 text stays."""
    assert neutralise_c1(data) == expected


@given(st.binary())
def test_neutralised_bytes_hold_no_c1(data: bytes) -> None:
    """Whatever the bytes, none is a C1 control either way a terminal reads it."""
    safe = neutralise_c1(data)
    assert not any("\x80" <= char <= "\x9f" for char in safe.decode("utf-8", "ignore"))
    text = safe.decode("utf-8", "surrogateescape")
    assert not any(0xDC80 <= ord(char) <= 0xDC9F for char in text)


def test_connection_error_reason() -> None:
    """Twisted's connection errors are reduced to their last, useful part."""
    assert connection_error_reason(
        ConnectionRefusedError("111: Connection refused")
    ) == ("Connection refused")
