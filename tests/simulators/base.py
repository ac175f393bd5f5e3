"""A tiny threaded HTTP server for provider simulators, recording every request.

A simulator subclasses :class:`Simulator` and implements :meth:`Simulator.handle`;
it runs on 127.0.0.1 on a free port, in a thread, for the length of a test.
Faults are scripted with :meth:`Simulator.fail_next` (e.g. a 429 with
``Retry-After``, a 500, a malformed page) so tests can assert the client's
behaviour, and :attr:`Simulator.requests` lets them assert what was asked.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Recorded", "Reply", "Simulator"]


@dataclass
class Recorded:
    """One request as the simulator received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering (to provoke client timeouts)
    delay: float = 0.0
    #: close the connection without any answer (a dropped connection)
    drop: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            json.dumps(data, ensure_ascii=False).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


class Simulator:
    """Base of provider simulators: start/stop, request log, scripted faults."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: deque[Reply] = deque()
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Simulator:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(
                    self.command,
                    split.path,
                    parse_qs(split.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with sim.lock:
                    sim.requests.append(rec)
                    reply = sim.faults.popleft() if sim.faults else None
                if reply is None:
                    try:
                        reply = sim.handle(rec)
                    except Exception as exc:  # a simulator bug shows as a 500 with the reason
                        reply = Reply(500, f"simulator error: {type(exc).__name__}: {exc}".encode())
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = reply.body if isinstance(reply.body, bytes) else str(reply.body).encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "simulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -------------------------------------------------------------------------
    def fail_next(self, *replies: Reply) -> None:
        """Answer the next requests with these replies (in order) instead of handling them."""
        with self.lock:
            self.faults.extend(replies)

    def handle(self, request: Recorded) -> Reply:
        """Answer one request; subclasses implement the provider's contract."""
        raise NotImplementedError
