"""
Where a downloaded body goes, and what happens to it on the way: gzip decoding with a
size cap, the size limit, hashing, and atomic saving to a file.

A body is streamed: each piece is decoded, counted, hashed and written as it comes, so
memory stays flat whatever its size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO, Final, Protocol

from twisted_tcp._http_parser import BadTransferEncodingError, HTTPError

#: Bytes decompressed at a time, so a gzip bomb never inflates in one go.
_INFLATE_STEP: Final = 64 * 1024


class WriteError(HTTPError):
    """The body could not be written to its destination."""

    exit_code = 23


class FileTooLargeError(HTTPError):
    """The body is over C{--max-filesize}."""

    exit_code = 63


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
            raise WriteError(f"cannot write the body: {error.strerror}") from None

    def commit(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise WriteError(f"cannot write the body: {error.strerror}") from None

    def abort(self) -> None:
        pass


class AtomicFile:
    """
    Saves to C{path} atomically: the bytes go to a temporary file in the same
    directory, which on L{commit} is flushed, fsynced and renamed over C{path}. On
    L{abort}, or any failure, the temporary file is removed and C{path} is left as
    it was: there is never a partial file under the final name.
    """

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
        self._file = os.fdopen(descriptor, "wb")
        os.fchmod(descriptor, self._mode())

    def _mode(self) -> int:
        """The final file's mode: the old file's, or what umask allows."""
        try:
            return self.path.stat().st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            return 0o666 & ~umask

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as error:
            self.abort()
            raise WriteError(f"cannot write {self.path}: {error.strerror}") from None

    def commit(self) -> None:
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
        if not self._file.closed:
            self._file.close()
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


class BodyPipeline:
    """
    Decodes (gzip, if asked), limits, counts and optionally hashes a body on its way
    to a destination.

    @param max_size: the most decoded bytes accepted, or C{None}.
    @param gzip: the body has C{Content-Encoding: gzip} and should be decoded.
    @param sha256: hash the decoded body. It is off unless someone reads the digest:
        on a fast link SHA-256 is the costliest step of a download (44% of a 512 MiB
        one's time in a profile, more than receiving and writing together).
    """

    def __init__(
        self,
        destination: Destination,
        *,
        max_size: int | None,
        gzip: bool,
        sha256: bool = False,
    ) -> None:
        self.destination = destination
        self.max_size = max_size
        self.size = 0
        self._hash = hashlib.sha256() if sha256 else None
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None

    @property
    def sha256(self) -> str | None:
        """The decoded body's SHA-256 in hex, or C{None} if it was not asked for."""
        return None if self._hash is None else self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if self._inflater is None:
            self._deliver(data)
            return
        try:
            while data:
                self._deliver(self._inflater.decompress(data, _INFLATE_STEP))
                data = self._inflater.unconsumed_tail
        except zlib.error as error:
            raise BadTransferEncodingError(f"bad gzip data: {error}") from None

    def _deliver(self, data: bytes) -> None:
        self.size += len(data)
        if self.max_size is not None and self.size > self.max_size:
            raise FileTooLargeError(f"the body is over {self.max_size} bytes")
        if self._hash is not None:
            self._hash.update(data)
        self.destination.write(data)

    def finish(self) -> None:
        """The body is complete: check the gzip stream ended, then commit."""
        if self._inflater is not None:
            try:
                self._deliver(self._inflater.flush())
            except zlib.error as error:
                raise BadTransferEncodingError(f"bad gzip data: {error}") from None
            if not self._inflater.eof:
                raise BadTransferEncodingError("the gzip stream is truncated")
        self.destination.commit()
