"""
Browser tests of the chat page: Debian's chromium, headless, driven by selenium
through chromium-driver, against a real C{twist tcp-chat --web} process, with
C{nc}-style TCP members beside it. One browser serves the whole module; each test
opens its own tab (a fresh page, a fresh C{sessionStorage}).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .cluster_support import Node
from .redis_support import RedisServer, free_port
from .support import PATIENCE as WAIT
from .support import wait_until

CHECKOUT = Path(__file__).resolve().parent.parent
TWIST = Path(sys.executable).with_name("twist")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Headless, without a GPU or the setuid sandbox (tests may run as root), and with
#: nothing fetched from outside.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Where the phone-sized screenshot is kept (the README's is a copy of it).
ARTIFACTS = CHECKOUT / "build" / "test-artifacts"


class ChatServer:
    """A C{twist tcp-chat --web} process that can restart on the same two ports."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.web = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web}/"

    def start(self) -> None:
        self.starts += 1
        self.log = self.directory / f"twist-{self.starts}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(TWIST), "--log-format=text", "tcp-chat",
                    "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                    "--web", f"tcp:{self.web}:interface=127.0.0.1",
                    "--history", "20", "--flood-rate", "0",
                ],
                cwd=self.directory, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: "Site starting on" in self.log.read_text(), "twist to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(WAIT)


class Nc:
    """A raw TCP chat member, as C{nc} would be."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.lines: list[str] = []
        self._buffer = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\n" for line in lines).encode())

    def until(self, pattern: str) -> str:
        """Read lines until one matches C{pattern}; return it."""
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if re.search(pattern, line):
                    return line
            seen = len(self.lines)
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed before a line matching {pattern!r}"
            *complete, self._buffer = (self._buffer + chunk).split(b"\r\n")
            self.lines += [line.decode() for line in complete]

    def close(self) -> None:
        self.sock.close()


class Page:
    """The chat page in one browser tab."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        driver.get(url)
        self.wait_for(lambda: self.status().startswith("guest-"), "the welcome")
        self.nick = self.status().split()[0]

    def wait_for(self, condition: Callable[[], object], what: str) -> None:
        WebDriverWait(self.driver, WAIT).until(
            lambda _: condition(), f"gave up waiting for {what}"
        )

    def script(self, code: str) -> Any:
        return self.driver.execute_script(code)

    def lines(self) -> list[str]:
        """The text of every line in the room's log."""
        texts: list[str] = self.script(
            "return [...document.querySelectorAll('#log li')].map(li => li.textContent)"
        )
        return texts

    def wait_line(self, pattern: str) -> str:
        """Wait until a line of the log matches C{pattern}; return it."""
        found: list[str] = []

        def match() -> bool:
            found[:] = [line for line in self.lines() if re.search(pattern, line)]
            return bool(found)

        self.wait_for(match, f"a line matching {pattern!r}")
        return found[-1]

    def status(self) -> str:
        return str(self.script("return document.getElementById('status').textContent"))

    def people(self) -> list[str]:
        people: list[str] = self.script(
            "return [...document.querySelectorAll('#people li')]"
            ".map(li => li.textContent)"
        )
        return people

    def type(self, element: str, text: str) -> None:
        self.driver.find_element(By.ID, element).send_keys(text)

    def say(self, text: str) -> None:
        self.type("say", text + Keys.ENTER)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    chat = ChatServer(tmp_path_factory.mktemp("chat"))
    chat.start()
    yield chat
    chat.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless chromium for the module, with a fresh profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('profile')}")
    # An alert must stay up for the test to see it, not be dismissed by the driver.
    options.unhandled_prompt_behavior = "ignore"
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield browser
    browser.quit()


@pytest.fixture
def tab(driver: WebDriver) -> Iterator[WebDriver]:
    """A new tab of the module's browser, closed after the test."""
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    yield driver
    for handle in driver.window_handles:
        if handle != first:
            driver.switch_to.window(handle)
            driver.close()
    driver.switch_to.window(first)


@pytest.fixture
def nc(server: ChatServer) -> Iterator[Callable[[], Nc]]:
    """Makes raw TCP members, closed after the test."""
    made: list[Nc] = []

    def make() -> Nc:
        made.append(Nc(server.port))
        return made[-1]

    yield make
    for member in made:
        member.close()


def test_page_and_nc_talk_both_ways(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """A browser user and a TCP user exchange lines; typed text survives arrivals."""
    page = Page(tab, server.url)
    tcp = nc()
    tcp.send("/nick talker")
    page.wait_line(r"^\* talker joined #lobby$")
    page.type("say", "half a thought")
    tcp.send("hello from nc")
    page.wait_line(r" talker hello from nc$")
    assert page.script("return document.getElementById('say').value") == (
        "half a thought"
    )
    page.type("say", ", finished" + Keys.ENTER)
    tcp.until(rf"<{page.nick}> half a thought, finished$")
    assert page.script("return document.getElementById('say').value") == ""


def test_nick_and_who_from_the_page(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """The nick field renames; /who lists the room; the member list follows."""
    page = Page(tab, server.url)
    tcp = nc()
    tcp.send("/nick watcher")
    page.wait_for(lambda: "watcher" in page.people(), "watcher in the member list")
    nick = tab.find_element(By.ID, "nick")
    nick.clear()
    nick.send_keys("webby" + Keys.ENTER)
    tcp.until(rf"^\* {page.nick} is now known as webby$")
    page.wait_for(lambda: page.status() == "webby in #lobby", "the new nick")
    assert {"webby", "watcher"} <= set(page.people())
    page.say("/who")
    page.wait_line(r"^\* \d+ in #lobby:$")
    page.wait_line(r"^\*   webby \(since ")
    page.wait_line(r"^\*   watcher \(since ")


def test_reload_arrives_under_the_remembered_nick(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """After a reload the page asks for its remembered nick before anything else,
    so the room sees it arrive under that nick, not as guest-N renamed."""
    page = Page(tab, server.url)
    nick = tab.find_element(By.ID, "nick")
    nick.clear()
    nick.send_keys("returner" + Keys.ENTER)
    page.wait_for(lambda: page.status() == "returner in #lobby", "the new nick")
    tcp = nc()
    tcp.until(r"^\* Welcome, ")
    seen = len(tcp.lines)
    tab.refresh()
    page.wait_for(lambda: page.status() == "returner in #lobby", "the nick again")
    tcp.until(r"^\* returner joined #lobby$")
    arrivals = [
        line for line in tcp.lines[seen:] if "joined" in line or "known" in line
    ]
    assert arrivals == ["* returner joined #lobby"]


def test_topic_shown_when_the_page_loads(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """The topic of the room a page arrives in, sent before the page knows which
    room that is, is in its header from the start."""
    tcp = nc()
    tcp.send("/topic be nice to each other")
    tcp.until(r"set the topic of #lobby: be nice to each other$")
    page = Page(tab, server.url)
    page.wait_for(lambda: page.status().endswith(" in #lobby"), "the room")
    page.wait_for(
        lambda: (
            page.script("return document.getElementById('topic').textContent")
            == "be nice to each other"
        ),
        "the topic in the header",
    )


def test_markup_from_nc_is_shown_as_text(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """HTML and script sent by a TCP user appear as literal text and never run."""
    page = Page(tab, server.url)
    tcp = nc()
    tcp.send(
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script><b>bold</b>",
        "/nick x<img",
    )
    page.wait_line(r"<img src=x onerror=alert\(1\)>$")
    page.wait_line(r"<script>alert\(2\)</script><b>bold</b>$")
    markup = page.script(
        "return document.querySelectorAll('#log img, #log script, #log b').length"
    )
    assert markup == 0
    with pytest.raises(NoAlertPresentException):
        tab.switch_to.alert.text  # noqa: B018 - reading it is the check


def test_rooms_are_separate_and_switching_shows_history(
    tab: WebDriver, server: ChatServer
) -> None:
    """Two browsers in two rooms see only their own; switching shows the history."""
    lobby = Page(tab, server.url)
    lobby_tab = tab.current_window_handle
    tab.switch_to.new_window("tab")
    rust = Page(tab, server.url)
    rust_tab = tab.current_window_handle
    rust.type("join", "rust" + Keys.ENTER)
    rust.wait_line(r"^\* you are now in #rust; 1 here$")
    rust.say("borrow checker says hi")
    rust.wait_line(r"borrow checker says hi$")
    tab.switch_to.window(lobby_tab)
    lobby.say("lobby chatter")
    lobby.wait_line(r"lobby chatter$")
    assert not [line for line in lobby.lines() if "borrow checker" in line]
    # The switcher: list the rooms again, pick #rust.
    tab.find_element(By.ID, "rooms-refresh").click()
    rust_button = '//ul[@id="rooms"]//button[span[@class="room"]="#rust"]'
    lobby.wait_for(lambda: tab.find_elements(By.XPATH, rust_button), "#rust listed")
    tab.find_element(By.XPATH, rust_button).click()
    lobby.wait_line(r"^\* you are now in #rust; 2 here$")
    lobby.wait_line(r"borrow checker says hi$")
    assert not [line for line in lobby.lines() if "lobby chatter" in line]
    lobby.wait_for(lambda: lobby.status().endswith(" in #rust"), "the room")
    tab.switch_to.window(rust_tab)
    rust.wait_line(rf"^\* {lobby.nick} joined #rust$")
    assert not [line for line in rust.lines() if "lobby chatter" in line]


def test_scrolled_up_page_stays_put(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """New lines follow the bottom, but not while the reader has scrolled up."""
    page = Page(tab, server.url)
    tcp = nc()
    tcp.send(*(f"filler {n}" for n in range(80)))
    page.wait_line(r" filler 79$")
    at_bottom = (
        "const log = document.getElementById('log');"
        "return log.scrollHeight - log.scrollTop - log.clientHeight < 2"
    )
    page.wait_for(lambda: page.script(at_bottom), "the log to follow new lines")
    page.script("document.getElementById('log').scrollTop = 0")
    tcp.send("while you were reading")
    page.wait_line(r" while you were reading$")
    assert page.script("return document.getElementById('log').scrollTop") == 0
    more = tab.find_element(By.ID, "more")
    assert more.is_displayed()
    more.click()
    page.wait_for(lambda: page.script(at_bottom), "the log back at the bottom")
    assert not more.is_displayed()


def test_foreign_origin_refused(server: ChatServer) -> None:
    """A WebSocket opened by a page of another origin is refused with 403."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            f"ws://127.0.0.1:{server.web}/ws",
            origin="http://evil.example",
            timeout=WAIT,
        )
    assert refused.value.status_code == 403


def test_over_long_frame_gets_the_line_error(server: ChatServer) -> None:
    """A frame over --max-line gets the line-too-long error; the socket stays usable."""
    client = websocket.create_connection(
        f"ws://127.0.0.1:{server.web}/ws", timeout=WAIT
    )
    try:
        assert str(client.recv()).startswith("* Welcome, ")
        client.send("x" * 1025)
        received = [str(client.recv())]
        while not received[-1].startswith("error: "):
            received.append(str(client.recv()))
        assert received[-1].startswith("error: line too long (max 1024 bytes")
        client.send("/rooms")
        while not str(client.recv()).endswith(" rooms:"):
            pass
    finally:
        client.close()


def test_phone_screen(tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]) -> None:
    """On a 390x844 screen the input and the last line are in view (screenshot kept)."""
    tab.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    page = Page(tab, server.url)
    nick = tab.find_element(By.ID, "nick")
    nick.clear()
    nick.send_keys("bob" + Keys.ENTER)
    tab.find_element(By.ID, "panel-toggle").click()  # rooms live behind it here
    page.type("join", "#twisted" + Keys.ENTER)
    page.wait_line(r"^\* you are now in #twisted")
    assert not tab.find_element(By.ID, "panel").is_displayed()
    alice = nc()
    alice.send("/nick alice", "/join #twisted", "/topic Twisted, rooms and the web")
    alice.send(
        "hi bob! this page is a member like nc",
        "same nicks, same rooms, same /commands, same history",
        "<b>markup</b> stays text: <img src=x onerror=alert(1)>",
    )
    page.wait_line(r"stays text: <img src=x onerror=alert\(1\)>$")
    page.say("and it fits a phone: the input stays at the bottom")
    alice.send("scroll up and it stops following; new lines wait below")
    page.wait_line(r"new lines wait below$")
    page.say("works here on a small screen")
    page.wait_line(r"small screen$")
    page.say("/me waves")
    page.wait_line(r"bob waves$")
    geometry = page.script(
        """
        const input = document.getElementById('say').getBoundingClientRect();
        const last = document.querySelector('#log li:last-child')
            .getBoundingClientRect();
        const log = document.getElementById('log').getBoundingClientRect();
        return {width: window.innerWidth, height: window.innerHeight,
                inputTop: input.top, inputBottom: input.bottom,
                lastTop: last.top, lastBottom: last.bottom,
                logTop: log.top, logBottom: log.bottom};
        """
    )
    assert (geometry["width"], geometry["height"]) == (390, 844)
    assert 0 <= geometry["inputTop"] < geometry["inputBottom"] <= 844
    assert geometry["logTop"] <= geometry["lastTop"]
    assert geometry["lastBottom"] <= geometry["logBottom"] <= geometry["inputTop"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert tab.save_screenshot(str(ARTIFACTS / "chat-page.png"))


def test_page_reconnects_after_restart(
    tab: WebDriver, server: ChatServer, nc: Callable[[], Nc]
) -> None:
    """
    After a restart the page says so, reconnects by itself with its nick and room,
    and can send again.
    """
    page = Page(tab, server.url)
    nick = tab.find_element(By.ID, "nick")
    nick.clear()
    nick.send_keys("phoenix" + Keys.ENTER)
    page.type("join", "#ashes" + Keys.ENTER)
    page.wait_for(lambda: page.status() == "phoenix in #ashes", "nick and room")
    server.stop()
    page.wait_line(r"^\* server shutting down$")
    page.wait_line(r"^\* disconnected from the server; reconnecting…$")
    page.wait_for(lambda: "reconnecting" in page.status(), "the status to say so")
    server.start()
    page.wait_line(r"^\* reconnected$")
    page.wait_for(lambda: page.status() == "phoenix in #ashes", "nick and room again")
    tcp = nc()
    tcp.send("/join #ashes")
    tcp.until(r"^\* you are now in #ashes; 2 here$")
    page.say("back again")
    tcp.until(r"<phoenix> back again$")


def test_page_on_a_cluster_node(
    tab: WebDriver, redis_server: RedisServer, tmp_path: Path
) -> None:
    """On a cluster node, the page's user talks with a TCP user of another node."""
    web = free_port()
    near = Node(
        tmp_path, "near", redis_server.url, "--web", f"tcp:{web}:interface=127.0.0.1"
    )
    far = Node(tmp_path, "far", redis_server.url)
    near.start()
    far.start()
    try:
        wait_until(lambda: near.ready() and far.ready(), "both nodes to serve")
        page = Page(tab, f"http://127.0.0.1:{web}/")
        tcp = Nc(far.port)
        try:
            tcp.send("/nick faraway", "hello across nodes")
            page.wait_line(r" faraway hello across nodes$")
            page.say("hello back")
            tcp.until(rf"<{page.nick}> hello back$")
        finally:
            tcp.close()
    finally:
        near.stop()
        far.stop()
