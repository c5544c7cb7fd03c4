"""
Resuming a download without ever splicing two versions of a file together
(docs/http-client.md, "Resume"). The bytes received so far are kept with the
validator of the response they came from (its strong ETag, or its Last-Modified);
the rest is asked for with C{Range} and C{If-Range}, so a server whose file changed
sends it whole (200) and the kept bytes are dropped. A 206 must say, in
C{Content-Range}, that it starts where the kept bytes end and belongs to a file of
the same length. A response without a validator is never resumed: it starts over.
The file takes its final name only once every byte is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from twisted_tcp.http.errors import RangeError, WriteError
from twisted_tcp.http.parser import ResponseHead
from twisted_tcp.http.sinks import AtomicFile, close_quietly

_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18}|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes \*/([0-9]{1,18})")


@dataclass(frozen=True)
class Validator:
    """What identifies one version of the file at C{url}, and its length."""

    url: str
    etag: str | None
    last_modified: str | None
    length: int | None

    @classmethod
    def of(cls, url: str, head: ResponseHead, length: int | None) -> Validator:
        """The validator of a 200 response to C{url} with a C{length}-byte body."""
        etag = head.get("ETag")
        if etag is not None and etag.startswith("W/"):
            etag = None  # A weak ETag cannot be used with If-Range (RFC 9110).
        return cls(url, etag, head.get("Last-Modified"), length)

    def if_range(self) -> str | None:
        """The C{If-Range} value: the strong ETag, else the date, else C{None}."""
        return self.etag or self.last_modified


def full_length(head: ResponseHead) -> int | None:
    """The whole file's length from a 206's C{Content-Range}, if it gives one."""
    match = _CONTENT_RANGE.fullmatch(head.get("Content-Range") or "")
    if match is None or match[3] == "*":
        return None
    return int(match[3])


class ResumableFile(AtomicFile):
    """
    An L{AtomicFile} whose bytes outlive a failed attempt: kept open across retries
    and, with C{keep}, on disk as C{NAME.part} beside the target with the validator
    in C{NAME.part.json}, for the next run to resume.
    """

    def __init__(self, path: str | os.PathLike[str], url: str, keep: bool) -> None:
        self.url = url
        self.keep = keep
        self.validator: Validator | None = None
        if not keep:
            super().__init__(path)
            return
        self.path = Path(path)
        self._temporary = self.path.with_name(self.path.name + ".part")
        self._meta = self.path.with_name(self.path.name + ".part.json")
        try:
            descriptor = os.open(
                self._temporary, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, self._mode()
            )
        except OSError as error:
            raise WriteError(
                f"cannot open {self._temporary}: {error.strerror}"
            ) from None
        self._file = os.fdopen(descriptor, "r+b")
        self._file.seek(0, os.SEEK_END)
        self.validator = self._load()
        if self.validator is None:
            self.truncate()

    def _load(self) -> Validator | None:
        """The kept validator, if it is for this URL and fits the kept bytes."""
        try:
            validator = Validator(**json.loads(self._meta.read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if validator.url != self.url or validator.if_range() is None:
            return None
        if validator.length is not None and self.size() > validator.length:
            return None
        return validator

    def range_fields(self) -> list[tuple[str, str]]:
        """C{Range} and C{If-Range} for the bytes still missing, if any are kept."""
        offset = self.size()
        if not offset or self.validator is None:
            return []
        condition = self.validator.if_range()
        assert condition is not None
        return [("Range", f"bytes={offset}-"), ("If-Range", condition)]

    def begin(self, head: ResponseHead, length: int | None) -> None:
        """
        The final head arrived: a 206 goes on after the kept bytes (once its
        C{Content-Range} is checked), anything else starts the file over.

        @raise RangeError: for a 206 of another range or another file's length.
        """
        if head.status != 206:
            self.truncate()
            self.validator = Validator.of(self.url, head, length)
            if self.validator.if_range() is None:
                self.validator = None
            self._save()
            return
        offset = self.size()
        match = _CONTENT_RANGE.fullmatch(head.get("Content-Range") or "")
        if self.validator is None or not offset or match is None:
            raise RangeError(
                f"the server sent a part (206) with Content-Range "
                f"{head.get('Content-Range')!r}, not bytes {offset}-"
            )
        first, last, total = int(match[1]), int(match[2]), match[3]
        known = self.validator.length
        if (
            first != offset
            or last < first
            or (total != "*" and known is not None and int(total) != known)
        ):
            raise RangeError(
                f"the server sent bytes {first}-{last}/{total} for bytes {offset}-"
                f"{'' if known is None else known - 1}"
            )

    def complete(self, head: ResponseHead) -> bool:
        """
        After a 416 (nothing left in the range asked for): whether the kept bytes
        are the whole file, as its C{Content-Range: bytes */LENGTH} says.
        """
        match = _UNSATISFIED_RANGE.fullmatch(head.get("Content-Range") or "")
        return match is not None and int(match[1]) == self.size() > 0

    def _save(self) -> None:
        """Write the validator beside the kept bytes (with C{keep})."""
        if not self.keep:
            return
        if self.validator is None:
            self._meta.unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            self._meta.write_text(json.dumps(asdict(self.validator)), "utf-8")

    def suspend(self) -> None:
        """An attempt failed: make the kept bytes durable for the next one."""
        with contextlib.suppress(OSError, ValueError):
            self._file.flush()
            os.fsync(self._file.fileno())

    def commit(self) -> None:
        super().commit()
        if self.keep:
            self._meta.unlink(missing_ok=True)

    def abort(self) -> None:
        """
        The transfer is given up: the kept bytes stay (with C{keep}) for the next
        run to resume, else they are removed as an L{AtomicFile}'s are.
        """
        if not self.keep:
            super().abort()
            return
        self.suspend()
        close_quietly(self._file)
        if not self.validator:
            self.discard()

    def discard(self) -> None:
        """Remove the kept bytes and their validator: they can never be resumed."""
        super().discard()
        if self.keep:
            self._meta.unlink(missing_ok=True)
