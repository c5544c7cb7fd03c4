"""
What happens to a downloaded body on its way to its destination: content decoding
(L{twisted_tcp.http.decoding}), the size limit and hashing; the destinations
themselves are in L{twisted_tcp.http.sinks} and L{twisted_tcp.http.targets}.

A body is streamed: each piece is decoded, counted, hashed and written as it comes, so
memory stays flat whatever its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from twisted_tcp.http.decoding import Decoder, check_codings
from twisted_tcp.http.errors import FileTooLargeError
from twisted_tcp.http.sinks import AtomicFile, Destination


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
        self._decoders = [Decoder(coding) for coding in reversed(codings)]

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
