"""
Real servers for the HTTP client's tests, each in a temporary directory with no
configuration of the machine's: nginx (ranges, validators, keep-alive; its access
log names each request's connection and its count on it) and tinyproxy (a forward
proxy, plain and CONNECT). C{make test} installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..redis_support import free_port

#: How long a server may take to start listening, in seconds.
START_TIMEOUT = 10.0


def _executable(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: the HTTP client's tests need Debian's "
            f"{package} package (make test installs it when run as root)"
        )
    return found


def _wait_for_port(
    name: str, process: subprocess.Popen[bytes], port: int, log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{name} exited at start:\n{text[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen in time") from None
            time.sleep(0.01)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Nginx:
    """
    nginx serving C{root} on 127.0.0.1; C{log()} is its access log, one line per
    request: C{CONNECTION REQUESTS_ON_IT STATUS "REQUEST_LINE" RANGE}.
    """

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = directory
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = directory / "access.log"

    def configuration(self) -> str:
        # As root the master starts workers as nobody, who could not read a
        # test's temporary directory: they stay root there.
        user = "user root;" if os.geteuid() == 0 else ""
        temporary = self.directory
        return f"""
{user}
worker_processes 1; daemon off; pid {temporary}/nginx.pid;
error_log {temporary}/error.log;
events {{ worker_connections 256; }}
http {{
  log_format probe '$connection $connection_requests $status "$request" $http_range';
  access_log {self.access_log} probe;
  client_body_temp_path {temporary}; proxy_temp_path {temporary};
  fastcgi_temp_path {temporary}; uwsgi_temp_path {temporary};
  scgi_temp_path {temporary};
  keepalive_requests 1000;
  server {{ listen 127.0.0.1:{self.port}; root {self.root}; }}
}}
"""

    @contextmanager
    def running(self) -> Iterator[Nginx]:
        """Start nginx, yield it once it listens, stop it after."""
        executable = _executable("nginx", "nginx-light")
        conf = self.directory / "nginx.conf"
        conf.write_text(self.configuration())
        process = subprocess.Popen(
            [executable, "-p", str(self.directory), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port("nginx", process, self.port, self.directory / "error.log")
            yield self
        finally:
            _stop(process)

    def log(self, count: int) -> list[str]:
        """
        The access log's lines, once it has C{count}: nginx writes a request's
        line after sending the answer, so a client may read it before that.
        """
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            lines = []
            if self.access_log.exists():
                lines = self.access_log.read_text().splitlines()
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.01)

    def connections(self, count: int) -> list[tuple[str, int]]:
        """
        Each of the C{count} requests' connection, and its number among that
        connection's requests.
        """
        return [(line.split()[0], int(line.split()[1])) for line in self.log(count)]


@contextmanager
def nginx_serving(directory: Path, files: Mapping[str, bytes]) -> Iterator[Nginx]:
    """nginx, running, serving C{files} (name: content) from C{directory}/www."""
    root = directory / "www"
    root.mkdir()
    for name, content in files.items():
        (root / name).write_bytes(content)
    with Nginx(directory, root).running() as server:
        yield server


class Tinyproxy:
    """
    tinyproxy on 127.0.0.1, asking for C{credentials} (C{user:password}) if given;
    C{log()} is its log: a line for each request (C{CONNECT host:port HTTP/1.1},
    C{GET http://... HTTP/1.1}) among others.
    """

    def __init__(self, directory: Path, credentials: str | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = directory / "tinyproxy.log"
        self.credentials = credentials

    @contextmanager
    def running(self) -> Iterator[Tinyproxy]:
        """Start tinyproxy in the foreground, yield it once it listens, stop it."""
        executable = _executable("tinyproxy", "tinyproxy")
        lines = [
            f"Port {self.port}", "Listen 127.0.0.1", "Timeout 60",
            f'LogFile "{self.log_file}"', "LogLevel Info", "MaxClients 64",
            "Allow 127.0.0.1", "DisableViaHeader Yes",
        ]  # fmt: skip
        if self.credentials is not None:
            lines.append("BasicAuth " + " ".join(self.credentials.split(":", 1)))
        conf = self.directory / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        process = subprocess.Popen(
            [executable, "-d", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port("tinyproxy", process, self.port, self.log_file)
            yield self
        finally:
            _stop(process)

    def log(self) -> str:
        """Everything tinyproxy logged so far."""
        return self.log_file.read_text(errors="replace")
