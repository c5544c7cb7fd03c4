"""
Reference: the tutorials' chat server, one thread per client; every line goes to
everyone with a timestamp and the sender.

    python threaded_chat.py PORT
"""

from __future__ import annotations

import socket
import sys
import threading
import time

clients: list[socket.socket] = []
lock = threading.Lock()


def broadcast(line: bytes) -> None:
    with lock:
        for client in list(clients):
            try:
                client.sendall(line)
            except OSError:
                clients.remove(client)


def handle(connection: socket.socket, address: tuple[str, int]) -> None:
    with lock:
        clients.append(connection)
    reader = connection.makefile("rb")
    for raw in reader:
        text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if text == "quit":
            break
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        broadcast(f"[{stamp}] {address[0]}:{address[1]}: {text}\r\n".encode())
    with lock:
        if connection in clients:
            clients.remove(connection)
    connection.close()


def main(port: int) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(4096)
    print("listening", flush=True)
    while True:
        connection, address = server.accept()
        threading.Thread(target=handle, args=(connection, address), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[1]))
