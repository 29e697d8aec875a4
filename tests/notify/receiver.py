"""A webhook receiver on localhost: a tiny http.server in a thread that answers each POST
with the next status it was given (then 200), after ``delay_s``, and keeps what it received."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Receiver", "serve_receiver"]


@dataclass
class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200), keeping the bodies."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, int, dict[str, object]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    # Seconds before answering: a POST that is still under way when something else happens.
    delay_s: float = 0.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self) -> list[dict[str, object]]:
        """Bodies that got a 2xx answer."""
        with self.lock:
            return [body for _, status, body in self.received if 200 <= status < 300]


@contextlib.contextmanager
def serve_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                status = state.statuses.pop(0) if state.statuses else 200
                state.received.append((self.path, status, body))
                delay = state.delay_s
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
