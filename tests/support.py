"""
Helpers for the tests: protocols over in-memory transports, byte splitting, and small
real-socket clients on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from twisted_tcp._server import LimitedServerFactory
from twisted_tcp.cli.datagram import stop_listening

#: The longest wait for anything in a test, in seconds: a bound, not a measure.
PATIENCE = 30.0
#: Seconds between two looks at a condition a test waits for.
POLL_STEP = 0.01


def _polls(
    condition: Callable[[], object], what: str, seconds: float
) -> Iterator[None]:
    """
    The one way tests wait: look at C{condition} until it holds, yielding between
    looks (the caller waits L{POLL_STEP}); fail the test once C{seconds} have
    passed without it holding (a bound against hanging, far above what any step
    needs).
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds} s waiting for {what}")
        yield


async def until(
    reactor: IReactorTime,
    condition: Callable[[], object],
    seconds: float = PATIENCE,
    what: str = "a condition",
) -> None:
    """Let the reactor run until C{condition()} holds (see L{_polls})."""
    for _ in _polls(condition, what, seconds):
        await deferLater(reactor, POLL_STEP)


def wait_until(
    condition: Callable[[], object], what: str, seconds: float = PATIENCE
) -> None:
    """L{until} for a test that blocks (a browser, a subprocess), sleeping."""
    for _ in _polls(condition, what, seconds):
        time.sleep(POLL_STEP)


def connect(
    factory: LimitedServerFactory, host: str = "127.0.0.1", port: int = 40000
) -> tuple[Any, StringTransportWithDisconnection]:
    """
    Connect a new protocol of C{factory} to an in-memory transport from C{host}.

    @return: the protocol (or the refusal protocol) and its transport.
    """
    peer = IPv4Address("TCP", host, port)
    transport = StringTransportWithDisconnection(peerAddress=peer)
    protocol = factory.buildProtocol(peer)
    assert protocol is not None
    transport.protocol = protocol
    protocol.makeConnection(transport)
    return protocol, transport


def clock_of(factory: LimitedServerFactory) -> Clock:
    """The test clock a factory was built with."""
    assert isinstance(factory.clock, Clock)
    return factory.clock


def port_of(listening: IListeningPort) -> int:
    """The TCP or UDP port number a listening port is bound to."""
    port: int = listening.getHost().port  # type: ignore[attr-defined]
    return port


#: Stop a listening port and wait until it is closed.
stop = stop_listening


def take(transport: StringTransportWithDisconnection) -> bytes:
    """What the protocol has written since the last call."""
    written = transport.value()
    transport.clear()
    return written


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    """C{data} cut at the given offsets (sorted, duplicates and ends ignored)."""
    cuts = sorted({point for point in points if 0 < point < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in pairwise(bounds)]


def byte_by_byte(data: bytes) -> list[bytes]:
    """C{data} as one-byte chunks."""
    return [data[index : index + 1] for index in range(len(data))]


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """A hypothesis strategy: C{data} cut at random points."""
    if len(data) < 2:
        return [data]
    points = draw(st.lists(st.integers(1, len(data) - 1), max_size=min(len(data), 40)))
    return split_at(data, points)


def feed(protocol: Protocol, chunks: Sequence[bytes]) -> None:
    """Deliver chunks to a protocol as separate C{dataReceived} calls."""
    for chunk in chunks:
        protocol.dataReceived(chunk)


class Collector(Protocol):
    """A client that keeps everything it receives and fires C{done} on close."""

    def __init__(self, to_send: bytes = b"", half_close: bool = False) -> None:
        self.received = bytearray()
        self.to_send = to_send
        self.half_close = half_close
        self.done: Deferred[bytes] = Deferred()
        self.connected_once: Deferred[None] = Deferred()
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self.to_send:
            self.transport.write(self.to_send)
        if self.half_close:
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]
        self.connected_once.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason
        self.done.callback(bytes(self.received))


def blocking_exchange(
    port: int, steps: Sequence[bytes | None], timeout: float = 10.0
) -> list[bytes]:
    """
    A tutorial-style blocking client: for each step, send it (C{None}: send nothing)
    and C{recv(1024)} once; return what each C{recv} returned.
    """
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for step in steps:
            if step is not None:
                sock.sendall(step)
            replies.append(sock.recv(1024))
    return replies


def http_get(port: int, path: str) -> tuple[int, str]:
    """A blocking GET of C{path} on 127.0.0.1: the status and the body."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(exposition: str) -> dict[str, float]:
    """Each sample of a Prometheus text exposition, by its name and labels."""
    found = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def read_until_closed(sock: socket.socket) -> bytes:
    """Read from a blocking socket until the peer closes."""
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    return bytes(received)


def self_signed(
    directory: Path,
    common_name: str = "localhost",
    alt_names: Sequence[str] | None = ("localhost", "127.0.0.1"),
) -> tuple[Path, Path]:
    """
    A key and a self-signed CA certificate, by default for localhost and
    127.0.0.1; C{alt_names=None} leaves out subjectAltName, as the usual
    C{openssl req -x509 -subj /CN=NAME} one-liner does.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if alt_names is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_alt_name(name) for name in alt_names]),
            critical=False,
        )
    certificate = builder.sign(key, hashes.SHA256())
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def made(directory: Path, name: str) -> tuple[Path, Path]:
    """A key and certificate for C{name}, in a directory of their own."""
    directory.mkdir()
    return self_signed(directory, common_name=name)


def tls_connect(port: int) -> ssl.SSLSocket:
    """A TLS connection to 127.0.0.1 that takes any certificate (it is looked at)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(sock)


def served_name(sock: ssl.SSLSocket) -> str:
    """The common name of the certificate a TLS server showed."""
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    subject = x509.load_der_x509_certificate(der).subject
    (name,) = subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(name.value)


def echoes(sock: ssl.SSLSocket, data: bytes) -> bool:
    """Whether the server sends C{data} back (read in one C{recv})."""
    sock.sendall(data)
    return sock.recv(100) == data


def _alt_name(name: str) -> x509.GeneralName:
    """A subjectAltName entry: an IP address if C{name} is one, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


class Scripted(Protocol):
    """A raw server that sends a fixed reply and closes (or stalls)."""

    def __init__(self, reply: bytes | None, close: bool = True) -> None:
        self.reply = reply
        self.close = close

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        if self.reply is not None and b"\r\n\r\n" in data:
            self.transport.write(self.reply)
            if self.close:
                self.transport.loseConnection()


def raw_server(
    reactor: Any, reply: bytes | None, close: bool = True
) -> tuple[IListeningPort, str]:
    """
    A L{Scripted} server on 127.0.0.1 answering every request with C{reply}, then
    closing (or, with C{close=False}, stalling); its port and URL.
    """
    factory = Factory.forProtocol(lambda: Scripted(reply, close))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return port, f"http://127.0.0.1:{port_of(port)}/"


#: The C{twisted-tcp} command of the environment running the tests.
COMMAND = [str(Path(sys.executable).with_name("twisted-tcp"))]
GET_COMMAND = [*COMMAND, "get"]


def run(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run C{twisted-tcp ARGV...} to completion on C{stdin}, capturing its output."""
    return subprocess.run(
        [*COMMAND, *argv], input=stdin, capture_output=True, timeout=60
    )


async def run_against(
    *argv: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """L{run} in a thread, so that a server on the test's reactor can answer."""
    result: subprocess.CompletedProcess[bytes] = await deferToThread(
        run, *argv, stdin=stdin
    )
    return result


def run_get(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run C{twisted-tcp get ARGV...} to completion, capturing its output."""
    return subprocess.run(
        [*GET_COMMAND, *argv], capture_output=True, timeout=120, cwd=cwd
    )


async def run_get_against(
    *argv: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """L{run_get} in a thread, so that a server on the test's reactor can answer."""
    return await deferToThread(run_get, *argv, cwd=cwd)
