"""
Running C{twist} as users do: a subprocess whose log is read line by line, and a
fixture that kills whatever a test left running.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

TWIST = Path(sys.executable).with_name("twist")


class Twist:
    """A C{twist} subprocess, with its log read line by line."""

    def __init__(
        self,
        *argv: str,
        cwd: Path,
        log_format: str = "text",
        preexec_fn: Callable[[], None] | None = None,
        runner: Sequence[str] = (),
    ) -> None:
        """
        @param runner: a command that runs C{twist} (its arguments follow), such as
            C{systemd-socket-activate -l PORT}.
        """
        self.process = subprocess.Popen(
            [*runner, str(TWIST), f"--log-format={log_format}", *argv],
            cwd=cwd,
            preexec_fn=preexec_fn,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log: list[str] = []

    def wait_for_log(self, pattern: str, seconds: float = 60) -> re.Match[str]:
        """
        Read log lines until one matches C{pattern}. A twist that logs no such line
        within C{seconds} (a bound against hanging, far above what any start needs)
        is killed, and the test fails with what it did log.
        """
        assert self.process.stdout is not None
        watchdog = threading.Timer(seconds, self.process.kill)
        watchdog.start()
        try:
            for line in self.process.stdout:
                self.log.append(line)
                match = re.search(pattern, line)
                if match:
                    return match
        finally:
            watchdog.cancel()
        raise AssertionError(f"twist ended without logging {pattern!r}:\n{self.log}")

    def terminate(self) -> int:
        """Send SIGTERM and wait for the exit status."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        self.log.append(out)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
