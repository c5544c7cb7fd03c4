"""
What C{-o PATH} names and how a body is saved there (a L{FileTarget}), and the
file name a server's C{Content-Disposition} gives (C{-J}); see docs/http-client.md,
"Output targets".
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from twisted_tcp.http.errors import WriteError, server_text, shown
from twisted_tcp.http.sinks import AtomicFile, Destination, DeviceFile


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
