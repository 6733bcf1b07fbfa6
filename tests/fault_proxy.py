"""A loopback HTTP proxy that injects faults in front of an OpenAI-compatible server.

Faults follow the proxy's request count, so a retried request soon gets through:
429 with Retry-After, 500, a truncated body, and a hang longer than the client's timeout.
Requests whose body contains ``always_fail`` get 500 every time. Every request body that
reached the server is recorded, to count duplicates.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is part of the test, not an error


class FaultProxy:
    def __init__(self, upstream_port: int, faults: dict[int, str] | None = None, always_fail: str | None = None, hang_seconds: float = 6.0) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or {}  # request number (1-based) -> "429" | "500" | "truncate" | "hang"
        self.always_fail = always_fail
        self.hang_seconds = hang_seconds
        self.count = 0
        self.injected: Counter[str] = Counter()
        self.forwarded: Counter[bytes] = Counter()  # request bodies that reached the server
        self.in_flight = 0  # requests sent upstream whose response has not come back yet
        self._lock = threading.Lock()

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait until no request is on its way to the server (one a killed client left behind)."""
        deadline = time.time() + timeout
        while self.in_flight and time.time() < deadline:
            time.sleep(0.05)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.count += 1
                    fault = proxy.faults.get(proxy.count)
                if proxy.always_fail and proxy.always_fail.encode() in body:
                    fault = "500"
                if fault:
                    proxy.injected[fault] += 1
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "1"})
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "boom"}}')
                if fault == "hang":
                    time.sleep(proxy.hang_seconds)
                    self.close_connection = True
                    return None
                with proxy._lock:
                    proxy.in_flight += 1
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=300)
                upstream.request("POST", self.path, body, {"Content-Type": "application/json", "Authorization": self.headers.get("Authorization", "")})
                response = upstream.getresponse()
                data = response.read()
                with proxy._lock:
                    proxy.forwarded[body] += 1
                    proxy.in_flight -= 1
                if fault == "truncate":
                    self._send(response.status, data[: len(data) // 2], length=len(data))
                    self.close_connection = True
                    return None
                return self._send(response.status, data)

        return Handler

    @contextmanager
    def running(self) -> Iterator[int]:
        server = _QuietServer(("127.0.0.1", 0), self.handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            server.server_close()
