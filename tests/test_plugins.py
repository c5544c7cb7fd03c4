"""
Tests of the installed project as users meet it: C{twist} run as a subprocess from a
directory outside the checkout, plugin discovery after C{pip install .} and
C{pip install -e .}, and the contents of the built wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from twisted_tcp._version import __version__

from .support import read_until_closed
from .twist_support import TWIST, Twist

CHECKOUT = Path(__file__).resolve().parent.parent
PLUGINS = ("tcp-echo", "tcp-greet", "tcp-chat", "udp-echo", "http-get")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the checkout."""
    return tmp_path


def test_twist_help_lists_plugins(outside: Path) -> None:
    """twist --help, from any directory, lists our three plugins."""
    result = subprocess.run(
        [str(TWIST), "--help"], cwd=outside, capture_output=True, text=True, check=True
    )
    for name in PLUGINS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize(
    ("argv", "exchange", "expected"),
    [
        (["tcp-echo", "--mode", "upper"], b"hello", b"HELLO"),
        (["tcp-greet"], b"Alice\n", b"Welcome\r\nHello, Alice!\r\n"),
    ],
)
def test_tcp_plugin_serves_and_stops_on_sigterm(
    outside: Path,
    twist_runs: list[Twist],
    argv: list[str],
    exchange: bytes,
    expected: bytes,
) -> None:
    """Each TCP plugin starts, answers, and on SIGTERM closes clients and exits."""
    twist = Twist(*argv, "--listen", "tcp:0:interface=127.0.0.1", cwd=outside)
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(exchange)
        received = b""
        while len(received) < len(expected):
            received += sock.recv(1024)
        assert received == expected
        assert twist.terminate() == -signal.SIGTERM
        rest = read_until_closed(sock)
    if argv[0] == "tcp-greet":
        assert rest == b"* server shutting down\r\n"
    else:
        assert rest == b""
    assert any("disconnected" in line for line in twist.log)


LEAN = "twisted_tcp.leanreactor.LeanEPollReactor"


@pytest.mark.parametrize(
    ("reactor_options", "expected"),
    [
        ([], LEAN),
        (["--reactor", "lean-epoll"], LEAN),
        (["--reactor", "epoll"], "twisted.internet.epollreactor.EPollReactor"),
        (["--reactor", "poll"], "twisted.internet.pollreactor.PollReactor"),
    ],
    ids=["default", "lean-epoll", "epoll", "poll"],
)
def test_plugins_run_on_lean_reactor_unless_told(
    outside: Path,
    twist_runs: list[Twist],
    reactor_options: list[str],
    expected: str,
) -> None:
    """Our plugins run on the lean reactor by default; twist --reactor still wins."""
    twist = Twist(
        *reactor_options, "tcp-echo", "--listen", "tcp:0:interface=127.0.0.1",
        cwd=outside,
    )  # fmt: skip
    twist_runs.append(twist)
    assert twist.wait_for_log(r"Reactor: (\S+)")[1] == expected
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(1024) == b"ping"
    assert twist.terminate() == -signal.SIGTERM


def test_chat_plugin_relays_and_says_goodbye_on_sigterm(
    outside: Path, twist_runs: list[Twist]
) -> None:
    """tcp-chat relays a line, and on SIGTERM tells the client before exiting."""
    twist = Twist("tcp-chat", "--listen", "tcp:0:interface=127.0.0.1", cwd=outside)
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"hello\n")
        received = b""
        while b"<guest-1> hello\r\n" not in received:
            received += sock.recv(1024)
        assert received.startswith(b"* Welcome, guest-1!")
        assert twist.terminate() == -signal.SIGTERM
        assert read_until_closed(sock) == b"* server shutting down\r\n"


def test_udp_plugin_serves_and_stops_on_sigterm(
    outside: Path, twist_runs: list[Twist]
) -> None:
    """udp-echo starts, echoes a datagram, and exits on SIGTERM."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    twist = Twist(
        "udp-echo",
        "--port",
        str(free_port),
        "--interface",
        "127.0.0.1",
        "--mode",
        "upper",
        cwd=outside,
    )
    twist_runs.append(twist)
    assert twist.wait_for_log(r"Reactor: (\S+)")[1] == LEAN
    twist.wait_for_log(rf"starting on {free_port}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(b"hi", ("127.0.0.1", free_port))
        assert sock.recvfrom(100)[0] == b"HI"
    assert twist.terminate() == -signal.SIGTERM


def test_http_get_plugin_fetches_once_and_exits(outside: Path) -> None:
    """http-get saves the page, logs the result and stops by itself; a failure is
    logged at error level and leaves no file."""
    (outside / "index.html").write_bytes(b"<h1>saved</h1>")
    server = Twist(
        "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", ".", cwd=outside
    )
    try:
        port = int(server.wait_for_log(r"Site starting on (\d+)")[1])
        url = f"http://127.0.0.1:{port}/index.html"
        fetched = subprocess.run(
            [str(TWIST), "--log-format=text", "http-get", url, "--output", "copy.html"],
            cwd=outside,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert fetched.returncode == 0
        assert (outside / "copy.html").read_bytes() == b"<h1>saved</h1>"
        assert "200 OK, 14 bytes saved to copy.html" in fetched.stdout
        assert f"Reactor: {LEAN}" in fetched.stdout
        missing = subprocess.run(
            [
                str(TWIST),
                "--log-format=text",
                "http-get",
                "--fail",
                "--output",
                "gone",
                url.replace("index", "missing"),
            ],
            cwd=outside,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "#error] http-get" in missing.stdout
        assert "failed (exit code 22)" in missing.stdout
        assert not (outside / "gone").exists()
    finally:
        server.kill()


def test_twist_reports_usage_errors(outside: Path) -> None:
    """A bad option value stops twist with a usage error, before listening."""
    result = subprocess.run(
        [str(TWIST), "tcp-greet", "--greeting", "{0}"],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 64
    assert "bad greeting" in result.stdout + result.stderr


def run_twist(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run C{twist} with text logs until it exits by itself."""
    return subprocess.run(
        [str(TWIST), "--log-format=text", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("bogus:1", r"bad endpoint 'bogus:1': Unknown endpoint type: 'bogus'"),
        (
            "ssl:0:privateKey=missing.pem",
            r"bad endpoint 'ssl:0:privateKey=missing.pem': \S*/missing.pem: No such",
        ),
        ("tcp:70000", r"bad endpoint 'tcp:70000': '70000' is not a port number"),
    ],
)
def test_bad_endpoint_is_a_usage_error(
    outside: Path, endpoint: str, message: str
) -> None:
    """A bad --listen stops twist as a usage error (64) naming the problem, before
    anything listens, with no traceback."""
    result = run_twist("tcp-echo", "--listen", endpoint, cwd=outside)
    output = result.stdout + result.stderr
    assert result.returncode == 64
    assert re.match(f"Error: {message}", output)
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("plugin", "kind"),
    [("tcp-greet", socket.SOCK_STREAM), ("udp-echo", socket.SOCK_DGRAM)],
)
def test_busy_port_is_one_line(outside: Path, plugin: str, kind: int) -> None:
    """A port already in use ends twist with one line saying so, no traceback."""
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        result = run_twist(
            plugin, "--port", str(port), "--interface", "127.0.0.1", cwd=outside
        )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"twist: cannot listen on 127.0.0.1 port {port}: Address already in use\n"
    )


def test_unix_socket_in_missing_directory_is_one_line(outside: Path) -> None:
    """A UNIX socket that cannot be made ends twist with one line naming the
    socket's path (not its lock file's) and the missing directory."""
    result = run_twist("tcp-echo", "--listen", "unix:missing/echo.sock", cwd=outside)
    assert (result.returncode, result.stdout) == (1, "")
    assert (
        result.stderr
        == "twist: cannot listen on missing/echo.sock: no directory missing\n"
    )


# Packaging: a copy of the checkout as git hands it out, plus a stray dropin.cache.


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's source tree, copied without .venv and caches."""
    target = tmp_path_factory.mktemp("source") / "twisted-tcp"
    shutil.copytree(
        CHECKOUT,
        target,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "__pycache__",
            "*.pyc",
            ".*_cache",
            ".hypothesis",
            "dropin.cache",
            "build",
            "dist",
        ),
    )
    # What running twist from a checkout leaves behind; it must never be shipped.
    (target / "twisted" / "plugins" / "dropin.cache").write_bytes(b"stale cache")
    return target


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        timeout=300,
    )


def test_wheel_contents(source_copy: Path, tmp_path: Path) -> None:
    """
    The wheel holds the dropin, py.typed and the chat page's files, but no
    twisted/__init__.py or cache.
    """
    pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(tmp_path),
        str(source_copy),
    )
    [wheel] = tmp_path.glob("twisted_tcp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "twisted/plugins/twisted_tcp_plugins.py" in names
    assert "twisted/plugins/twisted_tcp_reactors.py" in names
    assert "twisted_tcp/py.typed" in names
    assert "twisted_tcp/tap/tcp_echo.py" in names
    for page_file in ("index.html", "chat.css", "chat.js", "icon.svg"):
        assert f"twisted_tcp/chat/web/static/{page_file}" in names
    assert "twisted/__init__.py" not in names
    assert "twisted/plugins/__init__.py" not in names
    assert not [name for name in names if name.endswith("dropin.cache")]
    assert not [name for name in names if name.startswith("tests/")]
    wheel_file = zipfile.ZipFile(wheel)
    info = f"twisted_tcp-{__version__}.dist-info"
    metadata = wheel_file.read(f"{info}/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    licence = wheel_file.read(f"{info}/licenses/LICENSE").decode()
    assert licence.startswith("MIT License\n")


def bare_environment(root: Path) -> Path:
    """
    A new virtual environment that sees this one's dependencies (Twisted, hatchling)
    through a .pth file but not this project; returns its python.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True
    )
    python = root / "bin" / "python"
    site = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(site) / "dependencies.pth").write_text(ours + "\n")
    return python


@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_plugins_discovered_after_install(
    source_copy: Path, tmp_path: Path, editable: bool
) -> None:
    """After pip install . or pip install -e ., twist lists the plugins anywhere."""
    python = bare_environment(tmp_path / "env")
    target = ["-e", str(source_copy)] if editable else [str(source_copy)]
    pip(
        "--python", str(python), "install", "--no-deps", "--no-build-isolation", *target
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(python), "-m", "twisted", "--help"],
        cwd=outside,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    for name in PLUGINS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), result.stdout
    # An unknown reactor would be a usage error (exit 64).
    subprocess.run(
        [str(python), "-m", "twisted", "--reactor", "lean-epoll", "--help"],
        cwd=outside, capture_output=True, check=True, env=env,
    )  # fmt: skip
    located = subprocess.run(
        [str(python), "-c", "import twisted_tcp; print(twisted_tcp.__file__)"],
        cwd=outside,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert (
        Path(located)
        .resolve()
        .is_relative_to(source_copy if editable else tmp_path / "env")
    )
