"""
A real C{redis-server} for the cluster tests: started on a free port of 127.0.0.1 (and
a Unix socket) in a temporary directory, with no configuration file of the machine's,
and able to stop and start again with or without its data, as the outage tests need.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from tests.support import wait_until

#: How long the server may take to start answering or to exit, in seconds.
START_TIMEOUT = 10.0

MISSING = (
    "redis-server is not installed: the cluster tests need Debian's redis-server "
    "package (make test installs it when run as root)"
)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """
    One C{redis-server} process and its data directory.

    @ivar port: its TCP port on 127.0.0.1 (kept across restarts).
    @ivar socket_path: its Unix socket.
    """

    def __init__(self, directory: Path, tls: tuple[Path, Path] | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(MISSING)
        self.executable = executable
        self.directory = directory
        self.data = directory / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.socket_path = directory / "redis.sock"
        self.port = free_port()
        #: With C{tls} (a key and a certificate), a TLS port besides the plain one.
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The C{redis://} URL of the server's TCP port."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server on its port and data directory; return once it answers."""
        assert self.process is None, "already running"
        tls = []
        if self.tls is not None:
            key, certificate = self.tls
            tls = [
                "--tls-port", str(self.tls_port),
                "--tls-key-file", str(key),
                "--tls-cert-file", str(certificate),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        command = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data),
            "--save", "",
            "--appendonly", "yes",
            "--protected-mode", "no",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
            *tls,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        wait_until(self._answers, "redis-server to answer", START_TIMEOUT)

    def _answers(self) -> bool:
        """Whether the server answers PING; an error if it has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.directory / "redis.log").read_text(errors="replace")
            raise RuntimeError(f"redis-server exited at start:\n{log[-2000:]}")
        return self.command("PING") == b"+PONG"

    def command(self, *words: str) -> bytes | None:
        """
        Send one inline command and return the first line of the reply (without
        CRLF), or C{None} when the server cannot be reached.
        """
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(" ".join(words).encode() + b"\r\n")
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                return reply.split(b"\r\n", 1)[0]
        except OSError:
            return None

    def cli(self, *words: str) -> list[str]:
        """Run one command with redis-cli; return the reply's lines (C{--raw})."""
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli comes with redis-server"
        reply = subprocess.run(
            [cli, "-p", str(self.port), "--raw", *words],
            capture_output=True,
            text=True,
            check=True,
            timeout=START_TIMEOUT,
        )
        return reply.stdout.splitlines()

    def keys(self, pattern: str) -> list[str]:
        """The keys matching C{pattern}, sorted."""
        return sorted(key for key in self.cli("KEYS", pattern) if key)

    def stop(self) -> None:
        """Stop the server as an operator would (SIGTERM: it saves and exits)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the server (SIGKILL: no chance to save anything)."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(how)
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, keep_data: bool = True) -> None:
        """Stop and start again; without C{keep_data}, start from an empty store."""
        self.stop()
        if not keep_data:
            shutil.rmtree(self.data)
            self.data.mkdir()
        self.start()

    def pid(self) -> int:
        """The server process's id."""
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User and system CPU time the server has used so far (from /proc)."""
        fields = Path(f"/proc/{self.pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
