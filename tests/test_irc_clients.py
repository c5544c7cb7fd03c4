"""
Real IRC clients in the chat: WeeChat (Debian's C{weechat-headless}, driven through
its FIFO) beside an C{nc}-like member and a browser's WebSocket member, all served by
one C{twist tcp-chat --irc} process.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from .redis_support import free_port
from .support import PATIENCE as WAIT
from .support import wait_until
from .test_chat_page import TWIST, Nc

WEECHAT = shutil.which("weechat-headless") or "/usr/bin/weechat-headless"


class Server:
    """A C{twist tcp-chat} process with its line, web and IRC doors."""

    def __init__(self, directory: Path) -> None:
        self.port, self.web, self.irc = free_port(), free_port(), free_port()
        self.log = directory / "twist.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(TWIST), "--log-format=text", "tcp-chat",
                    "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                    "--web", f"tcp:{self.web}:interface=127.0.0.1",
                    "--irc", f"tcp:{self.irc}:interface=127.0.0.1",
                    "--history", "20", "--flood-rate", "0",
                ],
                cwd=directory, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: "Starting reactor" in self.log.read_text(), "twist to start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(WAIT)


class WeeChat:
    """A headless WeeChat connected to the server, driven through its FIFO."""

    def __init__(self, directory: Path, port: int) -> None:
        self.home = directory / "weechat"
        commands = (
            "/set logger.file.flush_delay 0;"
            f" /server add chat 127.0.0.1/{port} -notls -nicks=wee;"
            " /connect chat"
        )
        self.process = subprocess.Popen(
            [WEECHAT, "-d", str(self.home), "-P", "irc,logger,fifo", "-r", commands],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: list(self.home.glob("weechat_fifo_*")), "WeeChat's FIFO")
        self.fifo = next(self.home.glob("weechat_fifo_*"))

    def command(self, text: str) -> None:
        """Run a command in the server's buffer, as typed there."""
        with self.fifo.open("w") as fifo:
            fifo.write(f"irc.server.chat */{text}\n")

    def log_of(self, channel: str) -> str:
        path = self.home / "logs" / f"irc.chat.{channel}.weechatlog"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(WAIT)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(tmp_path)
    yield started
    started.stop()


def test_weechat_talks_with_nc_and_a_browser(server: Server, tmp_path: Path) -> None:
    """WeeChat connects, joins two channels in turn, and talks in the second with an
    nc member and a browser member, each seeing the others' lines in its own way."""
    nc = Nc(server.port)
    browser = websocket.create_connection(
        f"ws://127.0.0.1:{server.web}/ws", timeout=WAIT
    )
    weechat = WeeChat(tmp_path, server.irc)
    try:
        nc.send("/nick ncuser", "/join #two")
        nc.until(r"you are now in #two")
        browser.send("/nick webuser")
        browser.send("/join #two")
        nc.until(r"\* webuser joined #two")
        wait_until(
            lambda: "has joined #lobby" in weechat.log_of("#lobby"), "the welcome"
        )
        weechat.command("join #one")
        wait_until(
            lambda: "has joined #one" in weechat.log_of("#one"), "the first JOIN"
        )
        weechat.command("join #two")
        nc.until(r"\* wee joined #two")
        weechat.command("msg #two hello from weechat")
        assert nc.until(r"<wee>").endswith("<wee> hello from weechat")
        nc.send("hello from nc")
        browser.send("hello from the browser")
        wait_until(
            lambda: "webuser\thello from the browser" in weechat.log_of("#two"),
            "the browser's line in WeeChat",
        )
        assert "ncuser\thello from nc" in weechat.log_of("#two")
        while "<wee> hello from weechat" not in browser.recv():
            pass  # Each frame is a line; recv gives up after WAIT seconds.
    finally:
        weechat.stop()
        browser.close()
        nc.close()
