"""
Tests for SIGHUP reloads: a C{twist} server reads its TLS certificate and key, and the
chat its message of the day and its operators, again; connections stay, and a bad new
file keeps the old one with one error line.
"""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path

from twisted_tcp.chat import texts

from .support import echoes, made, served_name, tls_connect
from .twist_support import Twist


def test_sighup_reloads_the_tls_certificate(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """After SIGHUP a new TLS client is shown the new certificate while a client
    connected before keeps talking; a bad new certificate logs one error line and
    the last good one stays in use."""
    old_key, old_cert = made(tmp_path / "old", "old.example")
    new_key, new_cert = made(tmp_path / "new", "new.example")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    shutil.copy(old_key, key)
    shutil.copy(old_cert, cert)
    twist = Twist("tcp-echo", "--listen",
                  f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
                  cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with tls_connect(port) as before:
        assert served_name(before) == "old.example"
        assert echoes(before, b"one")
        shutil.copy(new_key, key)
        shutil.copy(new_cert, cert)
        twist.process.send_signal(signal.SIGHUP)
        twist.wait_for_log(r"reloaded the certificate and key of ssl:")
        with tls_connect(port) as after:
            assert served_name(after) == "new.example"
            assert echoes(after, b"two")
        assert echoes(before, b"three")
        assert served_name(before) == "old.example"

        cert.write_text("not a certificate\n")
        twist.process.send_signal(signal.SIGHUP)
        error = twist.wait_for_log(r"cannot reload .*")[0]
        assert "keeping the one in use" in error
        with tls_connect(port) as later:
            assert served_name(later) == "new.example"
        assert echoes(before, b"four")
    assert twist.terminate() != 0
    assert sum("cannot reload" in line for line in twist.log) == 1
    assert not any("Traceback" in line for line in twist.log)


def test_sighup_reloads_the_chat_motd(tmp_path: Path, twist_runs: list[Twist]) -> None:
    """After SIGHUP a newcomer to the chat is shown the new message of the day; an
    unreadable one logs one error line and the last one read stays."""
    motd = tmp_path / "motd.txt"
    motd.write_text("first news\n")
    twist = Twist("tcp-chat", "--port", "0", "--interface", "127.0.0.1",
                  "--motd", str(motd), cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])

    def greeting() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            seen = b""
            while b"news" not in seen:
                seen += sock.recv(4096)
            return seen

    assert b"* first news" in greeting()
    motd.write_text("second news\n")
    twist.process.send_signal(signal.SIGHUP)
    twist.wait_for_log(r"reloaded --motd")
    assert b"* second news" in greeting()
    motd.unlink()
    twist.process.send_signal(signal.SIGHUP)
    assert "cannot read --motd" in twist.wait_for_log(r"cannot reload .*")[0]
    assert b"* second news" in greeting()


def test_sighup_reloads_the_chat_operators(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """After SIGHUP the accounts of the new --operators file are the server
    operators; a file naming a bad account logs one error line and the operators
    in use stay."""
    operators = tmp_path / "operators"
    operators.write_text("alice\n")
    twist = Twist("tcp-chat", "--port", "0", "--interface", "127.0.0.1",
                  "--operators", str(operators), cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = sock.makefile("rb")

        def answer(line: str) -> str:
            sock.sendall(line.encode() + b"\n")
            while True:
                got = lines.readline().decode().rstrip("\r\n")
                if got.startswith("error: ") or got == texts.registered("bob"):
                    return got

        sock.sendall(b"/nick bob\n")
        assert answer("/register password1") == texts.registered("bob")
        assert answer("/kick nobody") == f"error: {texts.NOT_OPERATOR}"
        operators.write_text("# operators\nbob\n")
        twist.process.send_signal(signal.SIGHUP)
        twist.wait_for_log(r"reloaded --operators")
        assert answer("/kick nobody") == f"error: {texts.no_such_nick('nobody')}"
        operators.write_text("not a nick!\n")
        twist.process.send_signal(signal.SIGHUP)
        assert "bad account name" in twist.wait_for_log(r"cannot reload .*")[0]
        assert answer("/kick nobody") == f"error: {texts.no_such_nick('nobody')}"
