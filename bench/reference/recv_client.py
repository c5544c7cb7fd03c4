"""
Reference: the tutorial's HTTP client: send GET, recv until EOF into memory, split
head from body, save the body.

    python recv_client.py HOST PORT PATH OUTPUT
"""

from __future__ import annotations

import socket
import sys


def main(host: str, port: int, path: str, output: str) -> None:
    sock = socket.create_connection((host, port))
    sock.send(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    buffer = []
    while True:
        data = sock.recv(1024 * 64)
        if not data:
            break
        buffer.append(data)
    sock.close()
    data = b"".join(buffer)
    header, body = data.split(b"\r\n\r\n", 1)
    print(header.decode("latin-1"))
    with open(output, "wb") as file:
        file.write(body)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
