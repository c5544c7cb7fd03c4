"""
Where a body's bytes go (a L{Destination}): nowhere, an open stream such as
standard output, a character device or FIFO written in place, or a regular file
saved atomically (see docs/http-client.md, "Output targets").
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from twisted_tcp.http.errors import ChecksumError, WriteError


class Destination(Protocol):
    """Receives a body's bytes; L{commit} when it is complete, L{abort} if not."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Discard:
    """A destination that keeps nothing (redirect bodies, library use)."""

    def write(self, data: bytes) -> None:
        pass

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


class StreamDestination:
    """Writes to an open binary stream, such as standard output."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except OSError as error:
            raise self._failed(error) from None

    def commit(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise self._failed(error) from None

    @staticmethod
    def _failed(error: OSError) -> WriteError:
        return WriteError(f"cannot write the body: {error.strerror}")

    def abort(self) -> None:
        pass


class _FileDestination:
    """What L{DeviceFile} and L{AtomicFile} share: writing to an open file."""

    path: object  # Named in error messages.
    _file: BinaryIO

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as error:
            raise self.write_failed(error) from None

    def write_failed(self, error: OSError) -> WriteError:
        """Give up after C{error} while writing: abort, and the error to report."""
        self.abort()
        return WriteError(f"cannot write {self.path}: {error.strerror}")

    def abort(self) -> None:
        close_quietly(self._file)


class DeviceFile(_FileDestination):
    """
    Writes into a character device or a FIFO as it is: no temporary file and no
    rename, so C{/dev/null} stays the null device and a FIFO's reader gets the body.
    What was written cannot be taken back: C{abort} only closes.

    A FIFO is opened without waiting: with no reader it fails at once (C{ENXIO})
    instead of blocking the whole client until one comes. Once open, writes block
    while the reader is behind, as writing to standard output does.
    """

    def __init__(self, path: str) -> None:
        self.path: str = path
        flags = os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            descriptor = os.open(path, flags)
        except OSError as error:
            if error.errno == errno.ENXIO and stat.S_ISFIFO(_mode_of(path)):
                raise WriteError(
                    f"nobody is reading the FIFO {path}: start its reader first"
                ) from None
            raise WriteError(f"cannot open {path}: {error.strerror}") from None
        os.set_blocking(descriptor, True)
        self._file = os.fdopen(descriptor, "wb")

    def commit(self) -> None:
        try:
            self._file.close()
        except OSError as error:
            raise self.write_failed(error) from None


def _mode_of(path: str) -> int:
    """C{path}'s file type and mode bits (following links), or 0."""
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def close_quietly(file: BinaryIO) -> None:
    """
    Close C{file} on a path that is already failing: the flush inside C{close}
    can fail again (a full disk, a FIFO whose reader left), and that second error
    must not hide the first.
    """
    with contextlib.suppress(OSError):
        file.close()


class AtomicFile(_FileDestination):
    """
    Saves to C{path} atomically: the bytes go to a temporary file in the same
    directory, which on L{commit} is flushed, fsynced and renamed over C{path}. On
    L{abort}, or any failure, the temporary file is removed and C{path} is left as
    it was: there is never a partial file under the final name.
    """

    path: Path
    #: The SHA-256 the body must have, checked on the disk before the rename.
    expected_sha256: str | None = None
    #: Whether L{commit} reads the file back for its L{digest} (when the body did
    #: not all pass through a hash on its way in).
    hash_on_commit = False
    #: The body's SHA-256, once L{commit} has computed it.
    digest: str | None = None

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
            )
        except OSError as error:
            raise WriteError(f"cannot create a file in {self.path.parent}: "
                             f"{error.strerror}") from None  # fmt: skip
        self._temporary = Path(temporary)
        self._file = os.fdopen(descriptor, "r+b")
        os.fchmod(descriptor, self._mode())

    def _mode(self) -> int:
        """The final file's mode: the old file's, or what umask allows."""
        try:
            return self.path.stat().st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            return 0o666 & ~umask

    def descriptor(self) -> int:
        """
        The temporary file's descriptor, for writing the rest of the body into it
        directly (L{twisted_tcp.http.splice}): what C{write} buffered is flushed first,
        so the file position is where the body goes on.
        """
        self._file.flush()
        return self._file.fileno()

    def size(self) -> int:
        """The bytes in the temporary file."""
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def truncate(self) -> None:
        """Drop every byte written: the body starts again from its first byte."""
        self._file.seek(0)
        self._file.truncate()

    def sha256(self) -> str:
        """The SHA-256 of the temporary file's bytes, read back from the disk."""
        self._file.flush()
        digest = hashlib.sha256()
        offset = 0
        while piece := os.pread(self._file.fileno(), 1 << 20, offset):
            digest.update(piece)
            offset += len(piece)
        return digest.hexdigest()

    def commit(self) -> None:
        """
        Rename the whole body into place (after checking its SHA-256, if one is
        expected).

        @raise ChecksumError: the body is not the one expected; nothing is renamed.
        """
        if self.expected_sha256 is not None or self.hash_on_commit:
            self.digest = self.sha256()
        if self.expected_sha256 not in (None, self.digest):
            self.discard()
            raise ChecksumError(
                f"the body's SHA-256 is {self.digest}, not {self.expected_sha256}: "
                f"{self.path} is left as it was"
            )
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temporary, self.path)
        except OSError as error:
            self.abort()
            raise WriteError(f"cannot save {self.path}: {error.strerror}") from None
        _fsync_directory(self.path.parent)

    def abort(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove the temporary file: its bytes are of no use."""
        close_quietly(self._file)
        self._temporary.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in C{directory} durable (where the platform allows it)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
