"""
Where a downloaded body goes, and what happens to it on the way: content decoding
(gzip, deflate) in capped steps, the size limit, hashing, and saving to a file:
atomically for a regular file, straight into a character device or FIFO (see
docs/http-client.md, "Output targets").

A body is streamed: each piece is decoded, counted, hashed and written as it comes, so
memory stays flat whatever its size.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol
from urllib.parse import unquote

from twisted_tcp.http.errors import (
    BadTransferEncodingError,
    ChecksumError,
    FileTooLargeError,
    WriteError,
    server_text,
    shown,
)

#: Bytes decompressed at a time, so a gzip bomb never inflates in one go.
_INFLATE_STEP: Final = 64 * 1024


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


@dataclass(frozen=True)
class FileTarget:
    """
    What C{-o PATH} names, looked at once before anything is fetched, so that a
    download never replaces something that is not a regular file:

      - a regular file, or nothing yet: saved atomically (L{AtomicFile}) under
        C{final}, the path with every symbolic link resolved, so a link is left in
        place and the file it points to is replaced;
      - a character device (C{/dev/null}, a terminal) or a FIFO: written in place
        (L{DeviceFile}), as C{curl} does;
      - a directory, a block device, a socket, a symbolic link loop: refused with
        a L{WriteError}.
    """

    path: str
    final: Path
    in_place: bool

    @classmethod
    def of(cls, path: str, create_dirs: bool = False) -> FileTarget:
        """
        Look at C{path} (following symbolic links) and decide how to write to it;
        with C{create_dirs}, make the directories it names that are missing.

        @raise WriteError: if it is a directory, a block device, a socket, or
            cannot be looked at (a symbolic link loop, a file as a directory, ...).
        """
        if path.endswith(os.sep):
            raise WriteError(f"{path} names a directory, not a file")
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            # Nothing there, or a symbolic link to nothing: the file is created
            # where the last link points, in a directory that must exist.
            final = Path(os.path.realpath(path))
            if create_dirs:
                _make_directories(path, final.parent)
            if not final.parent.is_dir():
                raise WriteError(
                    f"cannot write {path}: no directory {final.parent}"
                ) from None
            return cls(path, final, in_place=False)
        except OSError as error:
            raise WriteError(f"cannot write {path}: {error.strerror}") from None
        if stat.S_ISREG(mode):
            return cls(path, Path(os.path.realpath(path)), in_place=False)
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return cls(path, Path(path), in_place=True)
        if stat.S_ISDIR(mode):
            raise WriteError(f"{path} is a directory")
        if stat.S_ISBLK(mode):
            raise WriteError(
                f"{path} is a block device: refusing to write a download onto it "
                "(write to stdout and pipe it to dd if that is what you want)"
            )
        raise WriteError(f"{path} is not a file, a character device or a FIFO")

    def open(self) -> Destination:
        """The destination the body is written to."""
        if self.in_place:
            return DeviceFile(self.path)
        return AtomicFile(self.final)


def _make_directories(path: str, directory: Path) -> None:
    """Create C{directory} and its missing parents (C{--create-dirs})."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create the directory of {path}: "
                         f"{error.strerror}") from None  # fmt: skip


#: A Content-Disposition file name: C{filename="..."}, C{filename=token}, or RFC
#: 6266's C{filename*=UTF-8''percent-encoded}.
_DISPOSITION_NAME = re.compile(
    r"""(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))""",
    re.IGNORECASE,
)
_DISPOSITION_NAME_UTF8 = re.compile(
    r"(?:^|;)\s*filename\*\s*=\s*UTF-8''([^;\s]+)", re.IGNORECASE
)


def disposition_name(value: str) -> str | None:
    """
    The file name a C{Content-Disposition} field gives (C{-J}), if it gives one,
    when it is a safe name for a file in the target's directory: one path segment,
    not hidden, with no control character. Anything else is refused, never
    cleaned up into a name.

    @raise WriteError: when the name is not safe.
    """
    utf8 = _DISPOSITION_NAME_UTF8.search(value)
    plain = _DISPOSITION_NAME.search(value)
    if utf8 is not None:
        name = unquote(utf8[1], errors="surrogateescape")
    elif plain is not None:
        quoted = plain[1]
        name = server_text(
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain[2]
        )
    else:
        return None
    if (
        not name
        or name.startswith(".")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
        or any("\udc80" <= char <= "\udcff" for char in name)
    ):
        raise WriteError(
            f"-J: the server's file name {shown(name)!r} is not a plain file name"
        )
    return name


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
            raise WriteError(f"cannot write {self.path}: {error.strerror}") from None


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


#: Content codings that C{--compressed} decodes, with zlib's window bits for each:
#: gzip (RFC 1952) and deflate, which in HTTP is the zlib format (RFC 1950).
_WINDOW_BITS: Final = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}
#: The most codings one body may be wrapped in (curl allows 5 as well).
MAX_CODINGS: Final = 5
#: What C{Accept-Encoding} asks for with C{--compressed}.
ACCEPT_ENCODING: Final = "gzip, deflate"


def content_codings(values: list[str]) -> list[str]:
    """
    The content codings named by the C{Content-Encoding} field values, in the order
    they were applied (C{identity}, which means none, is left out).
    """
    return [
        coding
        for value in values
        for element in value.split(",")
        if (coding := element.strip(" \t").lower()) and coding != "identity"
    ]


def check_codings(codings: Sequence[str]) -> None:
    """
    @raise BadTransferEncodingError: unless every coding can be decoded here.
    """
    unknown = [coding for coding in codings if coding not in _WINDOW_BITS]
    if unknown:
        raise BadTransferEncodingError(
            f"unsupported content coding {', '.join(unknown)!r} "
            f"(--compressed decodes {', '.join(_WINDOW_BITS)})"
        )
    if len(codings) > MAX_CODINGS:
        raise BadTransferEncodingError(
            f"more than {MAX_CODINGS} content codings: {', '.join(codings)!r}"
        )


class _Decoder:
    """
    Undoes one content coding as the bytes come, never more than L{_INFLATE_STEP}
    decoded bytes at a time (so the size limit stops a gzip bomb early). Gzip
    bodies may hold several members, decoded one after another as C{gzip -d}
    does; anything else after the end of the stream is an error.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._inflater = zlib.decompressobj(_WINDOW_BITS[coding])
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next encoded bytes."""
        if data:
            self._fed = True
        while data:
            if self._inflater.eof:
                if self.coding == "deflate":
                    raise BadTransferEncodingError(
                        "data after the end of the deflate stream"
                    )
                self._inflater = zlib.decompressobj(_WINDOW_BITS[self.coding])
            data = yield from self._inflate(data)

    def finish(self) -> Iterator[bytes]:
        """The last decoded pieces; the stream must have ended (if it began)."""
        if not self._fed:
            return  # An empty body is empty whatever its coding says.
        yield from self._inflate(b"")
        if not self._inflater.eof:
            raise BadTransferEncodingError(f"the {self.coding} stream is truncated")

    def _inflate(self, data: bytes) -> Generator[bytes, None, bytes]:
        """Decode C{data}; return what follows the end of the stream, if it ends."""
        inflater = self._inflater
        try:
            while True:
                piece = inflater.decompress(data, _INFLATE_STEP)
                if piece:
                    yield piece
                if inflater.eof:
                    return inflater.unused_data
                data = inflater.unconsumed_tail
                if not data and len(piece) < _INFLATE_STEP:
                    return b""
        except zlib.error as error:
            raise BadTransferEncodingError(f"bad {self.coding} data: {error}") from None


class BodyPipeline:
    """
    Decodes (content codings, if asked), limits, counts and optionally hashes a body
    on its way to a destination.

    @param max_size: the most decoded bytes accepted, or C{None}.
    @param codings: the body's content codings in the order they were applied
        (L{content_codings}), all undone here, last first.
    @param sha256: hash the decoded body. It is off unless someone reads the digest:
        on a fast link SHA-256 is the costliest step of a download (44% of a 512 MiB
        one's time in a profile, more than receiving and writing together).
    @raise BadTransferEncodingError: for a coding that cannot be decoded.
    """

    def __init__(
        self,
        destination: Destination,
        *,
        max_size: int | None,
        codings: Sequence[str] = (),
        sha256: bool = False,
    ) -> None:
        check_codings(codings)
        self.destination = destination
        self.max_size = max_size
        self.size = 0
        self._hash = hashlib.sha256() if sha256 else None
        self._decoders = [_Decoder(coding) for coding in reversed(codings)]

    @property
    def sha256(self) -> str | None:
        """The decoded body's SHA-256 in hex, or C{None} if it was not asked for."""
        return None if self._hash is None else self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if self._decoders:
            self._decode(data, 0)
        else:
            self._deliver(data)

    def _decode(self, data: bytes, stage: int) -> None:
        """Pass C{data} through the decoders from C{stage} on, then deliver it."""
        if stage == len(self._decoders):
            self._deliver(data)
            return
        for piece in self._decoders[stage].decode(data):
            self._decode(piece, stage + 1)

    def _deliver(self, data: bytes) -> None:
        self.count(len(data))
        if self._hash is not None:
            self._hash.update(data)
        self.destination.write(data)

    def count(self, size: int) -> None:
        """
        Count C{size} more decoded bytes.

        @raise FileTooLargeError: past C{max_size}.
        """
        self.size += size
        if self.max_size is not None and self.size > self.max_size:
            raise FileTooLargeError(f"the body is over {self.max_size} bytes")

    def direct_target(self) -> AtomicFile | None:
        """
        The file the rest of the body may be written to directly (its
        L{AtomicFile.descriptor}), bypassing L{write}, when nothing is to be done to
        the body on the way (no content coding, no hash) and it is saved atomically;
        else C{None}. Whoever writes there reports each piece to L{count}.
        """
        if self._decoders or self._hash is not None:
            return None
        if not isinstance(self.destination, AtomicFile):
            return None
        return self.destination

    def finish(self) -> None:
        """The body is complete: check every coded stream ended, then commit."""
        for stage, decoder in enumerate(self._decoders):
            for piece in decoder.finish():
                self._decode(piece, stage + 1)
        self.destination.commit()
