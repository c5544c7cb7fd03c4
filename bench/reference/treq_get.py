"""
Reference: treq downloading a URL to a file, streaming with collect().

    python treq_get.py URL OUTPUT
"""

from __future__ import annotations

import sys
from typing import Any

import treq
from twisted.internet.defer import Deferred
from twisted.internet.task import react


async def main(reactor: Any, url: str, output: str) -> None:
    response = await treq.get(url, reactor=reactor, unbuffered=True)
    with open(output, "wb") as file:

        def save(data: bytes) -> None:
            file.write(data)

        await treq.collect(response, save)


if __name__ == "__main__":
    react(
        lambda reactor: Deferred.fromCoroutine(main(reactor, sys.argv[1], sys.argv[2]))
    )
