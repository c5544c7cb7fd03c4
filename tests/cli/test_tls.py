"""
Tests for L{twisted_tcp.cli.tls}: C{send --tls} and C{chat --tls} against real
C{ssl:} listeners with self-signed certificates, the server's certificate and name
verified as C{get} verifies them, client certificates, and bad files refused in one
line before connecting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.internet.protocol import Factory, Protocol

from twisted_tcp import ChatFactory, EchoFactory
from twisted_tcp._listen import server_endpoint
from twisted_tcp.cli.arguments import build_parser
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.tls import tls_for
from twisted_tcp.http.errors import CACertError

from ..support import port_of, run, run_against, self_signed, stop


def pair(
    directory: Path, name: str = "localhost", *alt_names: str
) -> tuple[Path, Path]:
    """A self-signed key and certificate in a directory of their own."""
    directory.mkdir()
    return self_signed(directory, name, alt_names or ("localhost", "127.0.0.1"))


@asynccontextmanager
async def ssl_listener(
    reactor: Any, factory: Factory[Any], key: Path, certificate: Path
) -> AsyncIterator[str]:
    """An C{ssl:} listener on 127.0.0.1, as C{--listen} makes it; its port."""
    description = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={certificate}"
    port = await server_endpoint(reactor, description).listen(factory)
    try:
        yield str(port_of(port))
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_send_over_tls(reactor: Any, tmp_path: Path) -> None:
    """send --tls reaches an ssl: echo server by name and by address."""
    key, certificate = pair(tmp_path / "server")
    async with ssl_listener(reactor, EchoFactory(), key, certificate) as port:
        by_name = await run_against(
            "send", "--tls", "--cacert", str(certificate), "localhost", port, "hello"
        )
        by_address = await run_against(
            "send", "--tls", "--cacert", str(certificate), "127.0.0.1", port, "hi"
        )
    assert (by_name.returncode, by_name.stdout, by_name.stderr) == (0, b"hello\n", b"")
    assert (by_address.returncode, by_address.stdout) == (0, b"hi\n")


@pytest_twisted.ensureDeferred
async def test_chat_over_tls(reactor: Any, tmp_path: Path) -> None:
    """chat --tls with a nick: the whole session, over an ssl: chat listener."""
    key, certificate = pair(tmp_path / "server")
    async with ssl_listener(reactor, ChatFactory(), key, certificate) as port:
        result = await run_against(
            "chat", "--tls", "--cacert", str(certificate), "localhost", port,
            "--nick", "zed", stdin=b"hello\n",
        )  # fmt: skip
    out = result.stdout.decode().splitlines()
    assert out[1:2] == ["* guest-1 is now known as zed"]
    assert out[2].endswith("] <zed> hello")
    assert out[3:] == ["* Bye"]
    assert (result.returncode, result.stderr) == (0, b"")


@pytest.mark.parametrize(
    ("command", "trust"), [("send", "other"), ("chat", "other"), ("send", None)]
)
@pytest_twisted.ensureDeferred
async def test_unknown_ca_is_exit_60(
    reactor: Any, tmp_path: Path, command: str, trust: str | None
) -> None:
    """
    A certificate that chains to no CA trusted (another --cacert, or the system's
    CAs): exit 60 with one line, as get says it.
    """
    key, certificate = pair(tmp_path / "server")
    _, other = pair(tmp_path / "other")
    cacert = ["--cacert", str(other)] if trust else []
    async with ssl_listener(reactor, ChatFactory(), key, certificate) as port:
        result = await run_against(
            command, "--tls", *cacert, "localhost", port, stdin=b"never sent\n"
        )
    assert result.returncode == 60
    assert result.stderr == b"twisted-tcp: TLS failure: certificate verify failed\n"
    assert b"never sent" not in result.stdout


@pytest_twisted.ensureDeferred
async def test_name_is_checked(reactor: Any, tmp_path: Path) -> None:
    """A certificate trusted but made for another name: exit 60, saying whose it is."""
    key, certificate = pair(tmp_path / "server", "other.example", "other.example")
    async with ssl_listener(reactor, EchoFactory(), key, certificate) as port:
        result = await run_against(
            "send", "--tls", "--cacert", str(certificate), "127.0.0.1", port, "x"
        )
    assert result.returncode == 60
    assert result.stderr == (
        b"twisted-tcp: the certificate is not for 127.0.0.1 (it is for other.example)\n"
    )


class TellClient(Protocol):
    """Tells the client the common name of the certificate it presented."""

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        peer = self.transport.getPeerCertificate()  # type: ignore[attr-defined]
        [name] = peer.to_cryptography().subject.get_attributes_for_oid(
            NameOID.COMMON_NAME
        )
        self.transport.write(name.value.encode() + b"\n")
        self.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_client_certificate(reactor: Any, tmp_path: Path) -> None:
    """
    --cert and --key present a client certificate to a server that requires one;
    without them, that server refuses the handshake: exit 60.
    """
    key, certificate = pair(tmp_path / "server")
    client_key, client_certificate = pair(tmp_path / "client", "zed")
    server = ssl.PrivateCertificate.loadPEM(certificate.read_bytes() + key.read_bytes())
    # Options that require a client certificate from this authority.
    options = server.options(ssl.Certificate.loadPEM(client_certificate.read_bytes()))
    listening = reactor.listenSSL(
        0, Factory.forProtocol(TellClient), options, interface="127.0.0.1"
    )
    port = str(port_of(listening))
    trust = ["--tls", "--cacert", str(certificate)]
    try:
        presented = await run_against(
            "send", *trust, "--cert", str(client_certificate), "--key",
            str(client_key), "localhost", port, "who am I?",
        )  # fmt: skip
        anonymous = await run_against("send", *trust, "localhost", port, "who?")
    finally:
        await stop(listening)
    assert (presented.returncode, presented.stdout, presented.stderr) == (
        0, b"zed\n", b"",
    )  # fmt: skip
    assert anonymous.returncode == 60
    assert anonymous.stderr.startswith(b"twisted-tcp: TLS failure: ")
    assert anonymous.stderr.count(b"\n") == 1


def tls_of(*options: str) -> Any:
    """What L{tls_for} makes of C{send OPTIONS localhost 9}."""
    return tls_for(build_parser().parse_args(["send", *options, "localhost", "9"]))


def test_client_certificate_files(tmp_path: Path) -> None:
    """The key may come with the certificate, in one file, or in a file of its own."""
    key, certificate = pair(tmp_path / "client", "zed")
    both = tmp_path / "both.pem"
    both.write_bytes(certificate.read_bytes() + key.read_bytes())
    assert tls_of("--tls", "--cert", str(both)) is not None
    assert tls_of("--tls", "--cert", str(certificate), "--key", str(key))


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (["--cacert", "ca.pem"], 2, "--cacert needs --tls"),
        (["--cert", "cert.pem"], 2, "--cert needs --tls"),
        (["--tls", "--key", "key.pem"], 2, "--key needs --cert"),
        (["--tls", "--cert", "missing.pem"], 58,
         "cannot read --cert missing.pem: No such file or directory"),
        (["--tls", "--cert", "cert.pem"], 58,
         "--cert cert.pem: not a PEM certificate with its private key"),
        (["--tls", "--cert", "cert.pem", "--key", "other.pem"], 58,
         "--cert cert.pem and --key other.pem: not a PEM certificate with its private "
         "key"),
        (["--tls", "--cert", "key.pem", "--key", "key.pem"], 58,
         "--cert key.pem and --key key.pem: not a PEM certificate with its private "
         "key"),
    ],
)  # fmt: skip
def test_bad_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], code: int,
    message: str,
) -> None:  # fmt: skip
    """
    TLS options without --tls, and client certificate files that cannot be used
    (missing, no key, another's key, no certificate): refused before connecting.
    """
    self_signed(tmp_path, "zed")
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "other.pem").write_bytes((self_signed(other)[0]).read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClientError) as raised:
        tls_of(*options)
    assert (raised.value.exit_code, raised.value.message) == (code, message)


def test_bad_cacert(tmp_path: Path) -> None:
    """A --cacert file that cannot be read is get's exit 77."""
    with pytest.raises(CACertError) as raised:
        tls_of("--tls", "--cacert", str(tmp_path / "missing.pem"))
    assert raised.value.exit_code == 77


def test_bad_client_certificate_in_one_line(tmp_path: Path) -> None:
    """The command says what is wrong with --cert in one line: exit 58."""
    result = run("chat", "--tls", "--cert", str(tmp_path / "nothing"), "localhost")
    assert result.returncode == 58
    assert (
        result.stderr
        == (
            f"twisted-tcp: cannot read --cert {tmp_path / 'nothing'}: "
            "No such file or directory\n"
        ).encode()
    )
