"""
The options of the HTTP client, declared once for C{twisted-tcp get} (argparse) and
C{twist http-get} (L{twisted.python.usage}), with curl's names; and
L{fetch_options}, which turns the values of either into a
L{twisted_tcp.http.FetchOptions}. What each does: docs/http-client.md.

Only the standard library and our value checkers are imported here, so that
C{twisted-tcp --help} imports no network code.
"""

from __future__ import annotations

import argparse
import netrc
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted_tcp._checks import (
    BadValueError,
    non_negative_int,
    positive_seconds,
    seconds,
)
from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT

if TYPE_CHECKING:
    from twisted_tcp.http import FetchOptions, FetchResult
    from twisted_tcp.http.request import Field


#: What C{-O} puts among the C{-o} values of C{get}: the next URL's file is named
#: after its path.
REMOTE = "\0remote"


def _header(value: str) -> Field:
    """A C{-H} line, refused here if it could forge a field or the request."""
    from twisted_tcp.http.errors import BadURLError
    from twisted_tcp.http.request import parse_field

    try:
        return parse_field(value)
    except BadURLError as error:
        raise BadValueError(str(error)) from None


_RATE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)")


def _rate(value: str) -> int:
    """C{--limit-rate}: bytes a second, with curl's K, M and G (powers of 1024)."""
    match = _RATE.fullmatch(value)
    if match is None or float(match[1]) <= 0:
        raise BadValueError(f"expected a rate such as 200K or 1.5M, got {value}")
    scale = 1024 ** " kmg".index((match[2] or " ").lower())
    return max(1, int(float(match[1]) * scale))


def _resume(value: str) -> bool:
    """C{-C -}: resume from the bytes kept; an offset is not taken."""
    if value != "-":
        raise BadValueError(
            f"only -C - (go on from the part kept beside the file), not {value}"
        )
    return True


def _pause(value: str) -> float:
    """C{--retry-delay}: a number of seconds, 0 or more."""
    return seconds(value)


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise BadValueError(f"expected 64 hexadecimal digits, got {value}")
    return value.lower()


@dataclass(frozen=True)
class TimeCondition:
    """C{-z}: a time, and whether the file must be newer (else older) than it."""

    timestamp: float
    newer: bool


def _time_condition(value: str) -> TimeCondition | None:
    """
    C{-z FILE} (the file's time) or C{-z DATE} (an HTTP date, or ISO 8601 with
    its time zone); C{-DATE} asks for a file older than DATE. Neither a file nor a
    date is no condition, as in curl, so a script's first run (no file yet)
    fetches.
    """
    newer = not value.startswith("-")
    text = value if newer else value[1:]
    try:
        return TimeCondition(os.stat(text).st_mtime, newer)
    except OSError:
        pass
    for parse in (parsedate_to_datetime, datetime.fromisoformat):
        try:
            when = parse(text)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is None:
            raise BadValueError(f"-z {value}: give the time zone (Z, +01:00, GMT)")
        return TimeCondition(when.timestamp(), newer)
    return None


@dataclass(frozen=True)
class Option:
    """
    One option: a flag (no C{metavar}), a value checked by C{check}, or a
    C{repeat}able value. C{service}: also an option of C{twist http-get}.
    """

    long: str
    short: str | None
    help: str
    metavar: str | None = None
    check: Callable[[str], Any] | None = None
    default: Any = None
    repeat: bool = False
    service: bool = True

    @property
    def dest(self) -> str:
        """The key of the option's value: its long name in snake case."""
        return self.long.replace("-", "_")


OPTIONS = [
    Option("location", "L", "follow redirects"),
    Option("max-redirs", None,
           "most redirects to follow",
           "N", non_negative_int, DEFAULT_MAX_REDIRECTS),
    Option("fail", "f", "fail (exit 22) on HTTP status 400 or more"),
    Option("head", "I", "send HEAD: fetch the head only", service=False),
    Option("header", "H", "add, replace (Name: value) or drop (Name:) a request "
           "field; repeatable", "LINE", _header, repeat=True),
    Option("user", "u", "the credentials for Basic authentication (never sent to "
           "another host after a redirect)", "USER:PASSWORD"),
    Option("netrc", "n", "take the credentials from ~/.netrc (it must exist)"),
    Option("netrc-optional", None, "take them from ~/.netrc if it has them"),
    Option("netrc-file", None, "take the credentials from FILE", "FILE"),
    Option("referer", "e", "the Referer field", "URL"),
    Option("user-agent", "A", "the User-Agent field", "UA", None,
           DEFAULT_USER_AGENT),
    Option("compressed", None, "ask for gzip or deflate and decode every content "
           "coding listed"),
    Option("connect-timeout", None, "seconds allowed to connect", "S",
           positive_seconds, 30.0),
    Option("max-time", "m", "seconds allowed for each attempt at the transfer",
           "S", positive_seconds),
    Option("max-filesize", None, "largest body accepted (after decoding)",
           "BYTES", non_negative_int),
    Option("limit-rate", None, "read at most RATE bytes a second (K, M, G: "
           "powers of 1024)", "RATE", _rate),
    Option("retry", None, "try again up to N times after a transient failure "
           "(timeouts, cut connections, 408, 429, 500, 502, 503, 504)", "N",
           non_negative_int, 0),
    Option("retry-delay", None, "seconds between attempts (without it: 1, 2, 4, "
           "... with jitter; a Retry-After is honoured)", "S", _pause),
    Option("retry-max-time", None, "start no attempt after S seconds", "S",
           positive_seconds),
    Option("retry-connrefused", None, "a refused connection is transient too"),
    Option("retry-all-errors", None, "retry after any failure"),
    Option("continue-at", "C", "-: go on from the part kept beside the file (with "
           "Range and If-Range: a file that changed starts over)", "-", _resume),
    Option("expect-sha256", None, "the body's SHA-256: checked before the file is "
           "renamed into place (exit 120 if not)", "HEX", _sha256),
    Option("time-cond", "z", "fetch only if newer than FILE's time or DATE "
           "(-DATE: only if older); 304 leaves the file as it is", "FILE|DATE",
           _time_condition),
    Option("etag-compare", None, "fetch only if the ETag is not the one in FILE",
           "FILE"),
    Option("etag-save", None, "save the response's ETag to FILE", "FILE"),
    Option("remote-time", "R", "give the saved file the server's Last-Modified "
           "time"),
    Option("remote-header-name", "J", "with -O, save under the name the server's "
           "Content-Disposition gives (a plain name only, never replacing a "
           "file)", service=False),
    Option("create-dirs", None, "create the missing directories of the file"),
    Option("proxy", "x", "go through this HTTP proxy (http://[USER:PASSWORD@]"
           "HOST[:PORT]; \"\" for none): CONNECT for https://; without it, "
           "http_proxy, https_proxy, all_proxy", "URL"),
    Option("noproxy", None, "hosts, domains, addresses or ranges reached without "
           "a proxy (comma-separated; * for all); without it, no_proxy", "LIST"),
    Option("proxy-user", "U", "the proxy's credentials (Basic)", "USER:PASSWORD"),
    Option("cacert", None, "trust the CA certificate(s) in this PEM file", "FILE"),
    Option("insecure", "k", "do not verify the server's certificate"),
]  # fmt: skip


_DEFAULTS: dict[str, Any] = {option.dest: option.default for option in OPTIONS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare every option of L{OPTIONS} on C{twisted-tcp get}'s parser."""
    for option in OPTIONS:
        names = [f"--{option.long}"]
        if option.short is not None:
            names.insert(0, f"-{option.short}")
        if option.metavar is None:
            parser.add_argument(*names, action="store_true", help=option.help)
            continue
        text = option.help
        if option.default is not None:
            text += " (default: %(default)s)"
        parser.add_argument(
            *names, action="append" if option.repeat else "store",
            type=option.check or str, default=option.default,
            metavar=option.metavar, help=text,
        )  # fmt: skip


def add_to_usage(options_class: Any) -> None:
    """
    Declare the L{OPTIONS} a service takes on a L{twisted.python.usage.Options}
    class: flags, parameters, and an C{opt_} method for each repeatable one.
    """
    for option in OPTIONS:
        if not option.service:
            continue
        text = option.help[0].upper() + option.help[1:]
        if not hasattr(option.check, "coerceDoc"):
            text += "."  # Twisted adds one before a checker's note.
        if option.metavar is None:
            options_class.optFlags.append([option.long, option.short, text])
        elif option.repeat:
            _add_repeated(options_class, option, text)
        else:
            options_class.optParameters.append(
                [option.long, option.short, option.default, text, option.check]
            )


def _add_repeated(options_class: Any, option: Option, text: str) -> None:
    def collect(self: Any, value: str) -> None:
        assert option.check is not None
        try:
            self.setdefault(option.dest, []).append(option.check(value))
        except ValueError as error:
            from twisted.python import usage

            raise usage.UsageError(f"--{option.long}: {error}") from None

    collect.__doc__ = text
    setattr(options_class, f"opt_{option.dest}", collect)
    if option.short is not None:
        setattr(options_class, f"opt_{option.short}", collect)


def fetch_options(values: Mapping[str, Any], url: str, **extra: Any) -> FetchOptions:
    """
    The L{FetchOptions} for C{url} that option values say (keyed by L{Option.dest};
    those missing are defaults); C{extra} sets the fields no option of L{OPTIONS}
    sets (C{sha256}, C{include_headers}).

    @raise BadValueError: for a C{--netrc} file that cannot be read.
    """
    from twisted_tcp.http import FetchOptions
    from twisted_tcp.http.retry import RetryPolicy

    def value(name: str) -> Any:
        default = _DEFAULTS[name]
        found = values.get(name, default)
        return default if found is None else found

    condition: TimeCondition | None = value("time_cond")
    return FetchOptions(
        follow_redirects=bool(value("location")),
        max_redirects=value("max_redirs"),
        connect_timeout=value("connect_timeout"),
        max_time=value("max_time"),
        max_filesize=value("max_filesize"),
        compressed=bool(value("compressed")),
        user_agent=value("user_agent"),
        cacert=value("cacert"),
        insecure=bool(value("insecure")),
        fail=bool(value("fail")),
        headers=tuple(value("header") or ()),
        user=value("user") or _netrc_user(values, url),
        referer=value("referer"),
        head=bool(value("head")),
        limit_rate=value("limit_rate"),
        create_dirs=bool(value("create_dirs")),
        remote_header_name=bool(value("remote_header_name")),
        remote_time=bool(value("remote_time")),
        retry=RetryPolicy(
            retries=value("retry"),
            delay=value("retry_delay"),
            max_time=value("retry_max_time"),
            connection_refused=bool(value("retry_connrefused")),
            all_errors=bool(value("retry_all_errors")),
        ),
        resume=bool(value("continue_at")),
        expect_sha256=value("expect_sha256"),
        if_modified_since=_when(condition, newer=True),
        if_unmodified_since=_when(condition, newer=False),
        if_none_match=_etag_of(value("etag_compare")),
        proxy=values.get("proxy"),
        noproxy=value("noproxy"),
        proxy_user=value("proxy_user"),
        environment=dict(os.environ),
        **extra,
    )


def _when(condition: TimeCondition | None, newer: bool) -> float | None:
    """The condition's time if it asks for a file C{newer} (or older) than it."""
    if condition is None or condition.newer != newer:
        return None
    return condition.timestamp


def _netrc_user(values: Mapping[str, Any], url: str) -> str | None:
    """
    C{user:password} for C{url}'s host from the netrc file (C{--netrc}: it must
    be readable; C{--netrc-optional}: if it is; C{--netrc-file FILE}: that one).
    """
    from urllib.parse import urlsplit

    path = values.get("netrc_file")
    required = bool(values.get("netrc")) or path is not None
    if not required and not values.get("netrc_optional"):
        return None
    path = path or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entries = netrc.netrc(path)
    except (OSError, netrc.NetrcParseError) as error:
        if not required and isinstance(error, FileNotFoundError):
            return None
        reason = getattr(error, "strerror", None) or getattr(error, "msg", error)
        raise BadValueError(f"cannot read the netrc file {path}: {reason}") from None
    found = entries.authenticators(urlsplit(url).hostname or "")
    if found is None:
        return None
    login, _, password = found
    return f"{login}:{password}"


def _etag_of(path: str | None) -> str | None:
    """C{--etag-compare FILE}: the ETag in FILE's first line, if it has one."""
    if path is None:
        return None
    try:
        etag = Path(path).read_text("latin-1").partition("\n")[0].strip()
    except OSError:
        return None  # No file yet: no condition, so a first run fetches.
    return etag or None


def save_etag(path: str | None, result: FetchResult) -> None:
    """
    C{--etag-save FILE}: write the response's ETag (a line; empty if it had none),
    unless it was a 304, whose ETag is the one saved already.

    @raise WriteError: if FILE cannot be written.
    """
    from twisted_tcp.http.errors import WriteError

    if path is None or result.status == 304:
        return
    etag = dict((name.lower(), value) for name, value in result.headers).get("etag")
    try:
        Path(path).write_text(f"{etag}\n" if etag else "", "latin-1")
    except (OSError, UnicodeError) as error:
        raise WriteError(f"cannot write --etag-save {path}: {error}") from None
