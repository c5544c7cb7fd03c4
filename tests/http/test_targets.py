"""
Tests for L{twisted_tcp.http.targets} and L{twisted_tcp.http.sinks}: where a body
goes. Regular files are replaced atomically; character devices and FIFOs are
written in place and stay what they are; symbolic links are followed and left in
place; directories, block devices and link loops are refused. Real files, devices,
FIFOs and servers on 127.0.0.1.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread

from twisted_tcp.http import (
    WriteError,
    fetch,
)
from twisted_tcp.http.targets import FileTarget

from ..support import port_of, raw_server, run_get_against, stop

BODY = b"hello device\n" * 100
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


@pytest.fixture
def url(reactor: Any) -> Iterator[str]:
    """A server on 127.0.0.1 answering every request with BODY."""
    port, address = raw_server(reactor, REPLY)
    yield address
    port.stopListening()


def entries(directory: Path) -> list[str]:
    """The names in C{directory}, sorted: a temporary file left behind shows here."""
    return sorted(os.listdir(directory))


def needs_root(what: str) -> None:
    """Fail (never skip) where a test needs root: CI runs as root."""
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root (the CI runs as root)")


# Character devices and FIFOs: written in place.


@pytest_twisted.ensureDeferred
async def test_terminal_written_in_place(reactor: Any, url: str) -> None:
    """A character device (a pseudo-terminal) receives the body itself, no rename."""
    controller, terminal = os.openpty()
    try:
        tty.setraw(terminal)  # No newline translation: the bytes arrive as sent.
        name = os.ttyname(terminal)
        result = await fetch(reactor, url, name)
        assert result.bytes == len(BODY)
        received = b""
        while len(received) < len(BODY):
            received += os.read(controller, 65536)
        assert received == BODY
        assert stat.S_ISCHR(os.stat(name).st_mode)
    finally:
        os.close(terminal)
        os.close(controller)


@pytest_twisted.ensureDeferred
async def test_cli_dev_null_stays_the_null_device(reactor: Any, url: str) -> None:
    """C{get -o /dev/null}, even as root, writes into it and leaves it a device."""
    before = os.stat("/dev/null")
    # Checked first: were /dev/null ever to be taken for a file, the test stops
    # here instead of replacing the machine's null device.
    assert FileTarget.of("/dev/null").in_place
    result = await run_get_against("-s", "-o", "/dev/null", url)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not [name for name in os.listdir("/dev") if name.startswith(".null.")]


@pytest_twisted.ensureDeferred
async def test_device_nodes(reactor: Any, url: str, tmp_path: Path) -> None:
    """
    A character device node of our own is written in place and kept, with nothing
    created beside it; a block device is refused (exit 23) and kept.
    """
    needs_root("creating device nodes")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    # Major 240 is for local use: no driver serves it, so nothing can be harmed.
    block = tmp_path / "block"
    os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(240, 0))
    saved = await run_get_against("-s", "-o", str(null), url)
    assert saved.returncode == 0, saved.stderr
    refused = await run_get_against("-s", "-o", str(block), url)
    assert refused.returncode == 23
    assert (
        refused.stderr
        == (
            f"twisted-tcp: {block} is a block device: refusing to write a download "
            "onto it (write to stdout and pipe it to dd if that is what you want)\n"
        ).encode()
    )
    assert stat.S_ISCHR(null.stat().st_mode)
    assert stat.S_ISBLK(block.stat().st_mode)
    assert entries(tmp_path) == ["block", "null"]


@pytest_twisted.ensureDeferred
async def test_fifo_reader_gets_the_body(
    reactor: Any, url: str, tmp_path: Path
) -> None:
    """A FIFO is written in place: its reader gets the body, the FIFO stays."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        await fetch(reactor, url, str(fifo))
        received = b""
        while chunk := os.read(reader, 65536):  # b"" once the writer has closed.
            received += chunk
    finally:
        os.close(reader)
    assert received == BODY
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert entries(tmp_path) == ["fifo"]


@pytest_twisted.ensureDeferred
async def test_fifo_without_reader(reactor: Any, url: str, tmp_path: Path) -> None:
    """A FIFO nobody reads fails at once (exit 23) instead of hanging the client."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = await run_get_against("-s", "-o", str(fifo), url)
    assert result.returncode == 23
    message = f"nobody is reading the FIFO {fifo}: start its reader first"
    assert result.stderr == f"twisted-tcp: {message}\n".encode()
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert entries(tmp_path) == ["fifo"]


# Symbolic links: followed, and left in place.


@pytest_twisted.ensureDeferred
async def test_symlinks_followed(reactor: Any, url: str, tmp_path: Path) -> None:
    """
    Through two levels of links, the file at the end is replaced atomically, next
    to itself; the links stay links, pointing where they did.
    """
    (tmp_path / "data").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "data" / "file"
    target.write_bytes(b"old")
    inner = tmp_path / "links" / "inner"
    inner.symlink_to("../data/file")
    outer = tmp_path / "outer"
    outer.symlink_to("links/inner")
    result = await fetch(reactor, url, str(outer))
    assert result.path == str(outer)
    assert target.read_bytes() == BODY
    assert (os.readlink(outer), os.readlink(inner)) == ("links/inner", "../data/file")
    assert entries(tmp_path / "data") == ["file"]
    assert entries(tmp_path / "links") == ["inner"]


@pytest_twisted.ensureDeferred
async def test_dangling_symlink(reactor: Any, url: str, tmp_path: Path) -> None:
    """A link to nothing yet: the file is created where it points."""
    link = tmp_path / "link"
    link.symlink_to("new")
    await fetch(reactor, url, str(link))
    assert link.is_symlink()
    assert (tmp_path / "new").read_bytes() == BODY


@pytest.mark.parametrize("kind", ["directory", "loop", "trailing slash"])
@pytest_twisted.ensureDeferred
async def test_refused_before_connecting(
    reactor: Any, tmp_path: Path, kind: str
) -> None:
    """
    A directory, a symbolic link loop, or a name ending in a slash is refused with
    exit 23 before connecting (nothing listens at the URL, yet the error is about
    the file), and left as it was.
    """
    port = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    number = port_of(port)
    await stop(port)
    if kind == "directory":
        (tmp_path / "dir").mkdir()
        (tmp_path / "dir" / "inside").write_bytes(b"kept")
        name, message = str(tmp_path / "dir"), "is a directory"
    elif kind == "loop":
        (tmp_path / "a").symlink_to("b")
        (tmp_path / "b").symlink_to("a")
        name, message = str(tmp_path / "a"), "Too many levels of symbolic links"
    else:
        name, message = f"{tmp_path}/new/", "names a directory, not a file"
    before = entries(tmp_path)
    result = await run_get_against("-s", "-o", name, f"http://127.0.0.1:{number}/")
    assert result.returncode == 23
    stderr = result.stderr.decode()
    assert stderr.startswith(f"twisted-tcp: {name}") or f" {name}:" in stderr
    assert message in stderr
    assert stderr.count("\n") == 1
    assert entries(tmp_path) == before
    if kind == "directory":
        assert entries(tmp_path / "dir") == ["inside"]


def test_target_kinds(tmp_path: Path) -> None:
    """What C{-o} names decides how it is written: in place or atomically."""
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "link").symlink_to("file")
    os.mkfifo(tmp_path / "fifo")
    assert FileTarget.of(str(tmp_path / "link")) == FileTarget(
        str(tmp_path / "link"), tmp_path / "file", in_place=False
    )
    assert not FileTarget.of(str(tmp_path / "new")).in_place
    assert FileTarget.of(str(tmp_path / "fifo")).in_place
    assert FileTarget.of("/dev/null").in_place
    with pytest.raises(WriteError, match="is a directory"):
        FileTarget.of(str(tmp_path))
    with pytest.raises(WriteError, match="Not a directory"):
        FileTarget.of(str(tmp_path / "file" / "x"))


# A full disk.

#: Runs in its own mount namespace (gone, with its mount, when the script ends): a
#: 1 MiB tmpfs holding an old file, then C{get} of a larger body over that file.
_FULL_DISK = """
mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
printf old > "$1/file"
"$2" get -s -o "$1/file" "$3"
echo "exit $?"
ls -A "$1"
cat "$1/file"
"""


@pytest_twisted.ensureDeferred
async def test_full_disk(reactor: Any, tmp_path: Path) -> None:
    """
    A body bigger than the free space on a real (tmpfs) disk is exit 23 with one
    line on stderr; the old file is intact and no temporary file is left.
    """
    port, url = raw_server(
        reactor,
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (4 << 20)
        + os.urandom(4 << 20),
    )
    command = str(Path(sys.executable).with_name("twisted-tcp"))
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            _FULL_DISK, "sh", str(tmp_path), command, url]  # fmt: skip
    try:
        result = await deferToThread(
            subprocess.run, argv, capture_output=True, timeout=120
        )
    finally:
        await stop(port)
    assert result.stdout == b"exit 23\nfile\nold"
    assert (
        result.stderr
        == (
            f"twisted-tcp: cannot write {tmp_path}/file: No space left on device\n"
        ).encode()
    )
