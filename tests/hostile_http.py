"""Hostile HTTP servers on 127.0.0.1 for the client-hardening tests: one that drips its answer a byte at a time,
one whose answer is whatever a function of the request returns (echoing headers, huge or deeply nested bodies)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RawServer:
    """Accepts connections and hands each socket to ``handle(conn, request_head)`` in its own daemon thread."""

    def __init__(self, handle: Callable[[socket.socket, bytes], None]) -> None:
        self.handle = handle
        self.requests: list[bytes] = []
        self.connected = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.requests.append(head)
                self.connected.set()
                self.handle(conn, head)
            except OSError:
                pass

    def close(self) -> None:
        self._closed.set()
        self._sock.close()


def header(head: bytes, name: str) -> str:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def respond(conn: socket.socket, status: int, body: bytes, content_type: str = "application/json") -> None:
    conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)


def dripping(stop: threading.Event, in_headers: bool = True) -> Callable[[socket.socket, bytes], None]:
    """Answer one byte a second, forever (until ``stop``): in the status line and headers, or in the body."""
    def handle(conn: socket.socket, _head: bytes) -> None:
        if not in_headers:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        data = b"HTTP/1.1 200 OK\r\nX-Slow: " if in_headers else b""
        for byte in data:
            conn.sendall(bytes([byte]))
        while not stop.wait(1.0):
            conn.sendall(b"a" if in_headers else b" ")
    return handle
