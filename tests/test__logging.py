"""
Tests for L{twisted_tcp._logging}: every event gets its message as C{log_text}; and
C{twist --log-format=json} run as users run it gives JSON a person and C{jq --seq}
can read.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.logger import ILogObserver, LogEvent, Logger, LogPublisher, formatEvent

from twisted_tcp._logging import add_text, readable_logs

from .twist_support import Twist

#: What C{jq --seq} expects before each JSON text (RFC 7464).
RECORD_SEPARATOR = "\x1e"


class Source:
    """Something logged about, with a representation, an attribute and a method."""

    label = "a source"

    def __repr__(self) -> str:
        return "<Source>"

    def name(self) -> str:
        return "from a method"


def published(*formats_and_fields: tuple[str, dict[str, Any]]) -> list[LogEvent]:
    """Events logged through a publisher that has L{readable_logs}, as seen after."""
    publisher = LogPublisher()
    readable_logs(publisher)
    readable_logs(publisher)
    events: list[LogEvent] = []
    publisher.addObserver(cast(ILogObserver, events.append))
    logger = Logger(namespace="twisted_tcp.example", observer=publisher)
    for format, fields in formats_and_fields:
        logger.info(format, **fields)
    return events


def test_events_get_their_text() -> None:
    """An event's message, formatted, is in log_text for the observers after."""
    [event] = published(("{peer} connected after {seconds:.1f} s", {
        "peer": "127.0.0.1:5000", "seconds": 0.25,
    }))  # fmt: skip
    assert event["log_text"] == "127.0.0.1:5000 connected after 0.2 s"
    assert event["log_text"] == formatEvent(event)


def test_conversions_and_attributes() -> None:
    """!r and attribute access format as Twisted formats them."""
    [event] = published(("{source!r} is {source.label}", {"source": Source()}))
    assert event["log_text"] == "<Source> is a source"


def test_method_calls_formatted_as_twisted_does() -> None:
    """Twisted's own "{method()}" syntax, which str.format lacks, still formats."""
    [event] = published(("{source.name()}", {"source": Source()}))
    assert event["log_text"] == "from a method"


def test_unformattable_event_still_has_text() -> None:
    """A format naming a missing field gets Twisted's description, not an error."""
    [event] = published(("{missing} here", {}))
    assert event["log_text"].startswith("Unable to format event")


def test_existing_text_kept() -> None:
    """Events of Twisted's legacy logging, which carry log_text, are left alone."""
    event: LogEvent = {"log_format": "{log_text}", "log_text": "Port 9 closed"}
    add_text(event)
    assert event["log_text"] == "Port 9 closed"


def test_event_without_format_untouched() -> None:
    """An event with no format gets no text."""
    event: LogEvent = {"log_format": None}
    add_text(event)
    assert "log_text" not in event


@pytest.mark.parametrize("plugin", ["tcp-echo", "tcp-chat"])
def test_twist_json_log(tmp_path: Path, twist_runs: list[Twist], plugin: str) -> None:
    """
    twist --log-format=json: each line is RS then one JSON event, and each of our
    events has a log_text that reads as the text log does, the peer named in it.
    """
    twist = Twist(
        plugin, "--listen", "tcp:0:interface=127.0.0.1", cwd=tmp_path,
        log_format="json",
    )  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        peer = "{}:{}".format(*sock.getsockname())
        sock.sendall(b"hello\n")
        sock.recv(1024)
    twist.wait_for_log(r'"log_format": "\{peer\} disconnected')
    twist.terminate()
    # Not splitlines(): str.splitlines() also breaks at RS.
    lines = "".join(twist.log).removesuffix("\n").split("\n")
    assert all(line.startswith(RECORD_SEPARATOR) for line in lines), lines
    events = [json.loads(line.removeprefix(RECORD_SEPARATOR)) for line in lines]
    ours = [e for e in events if e["log_namespace"].startswith("twisted_tcp.")]
    assert ours
    assert all(isinstance(event["log_text"], str) for event in ours)
    texts = [event["log_text"] for event in ours]
    assert f"{peer} connected" in texts
    assert any(text.startswith(f"{peer} disconnected: ") for text in texts)
