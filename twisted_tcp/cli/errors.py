"""
The error a C{twisted-tcp} client raises for a failure it reports to the user.
"""

from __future__ import annotations


class ClientError(Exception):
    """A failure the command reports in one line and exits with C{exit_code}."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message
