"""
Tests for L{twisted_tcp.cli.progress}: drawn on terminals only, with or without a total,
for one transfer or a run of several.
"""

from __future__ import annotations

import io

from twisted_tcp.cli.progress import Overall, Progress, _size


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_with_total() -> None:
    """With a known length, the bar shows the share done and the sizes."""
    screen = Terminal()
    progress = Progress(screen)
    progress.start(4 << 20)
    progress.update(1 << 20)
    progress.finish()
    drawn = screen.getvalue()
    assert drawn.startswith("\r[#######")
    assert " 25%  1.0 MiB of 4.0 MiB " in drawn
    assert drawn.endswith("\n")


def test_no_total() -> None:
    """Without a length, it shows the bytes so far."""
    screen = Terminal()
    progress = Progress(screen)
    progress.start(None)
    progress.update(512)
    assert screen.getvalue().startswith("\r512 B  ")


def test_silent_when_not_a_terminal() -> None:
    """Nothing is drawn on a file or a pipe."""
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start(10)
    progress.update(5)
    progress.finish()
    assert stream.getvalue() == ""


def test_sizes() -> None:
    """Sizes are written for people."""
    assert [_size(n) for n in (0, 1023, 1024, 5 << 20, 3 << 30)] == [
        "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3.0 GiB",
    ]  # fmt: skip


def test_overall_line_counts_transfers_and_bytes() -> None:
    """A run of several shows how many are done and the bytes of all so far."""
    screen = Terminal()
    overall = Overall(screen, 3)
    overall.add(1024)
    overall.done()
    overall.add(1024)
    overall.finish()
    last = screen.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("1/3 done  2.0 KiB  ")
