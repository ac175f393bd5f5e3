"""The demo's "CRM": a tiny receiver of the hub's generic webhook sink.

It checks each delivery's ``X-Hub-Signature-256`` (HMAC-SHA256 over
``"<timestamp>.<body>"``), answers 401 to a bad one, drops a redelivered
``event_id``, appends every accepted event to a JSON-lines file and tells the
demo about it (``on_event``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["CrmReceiver"]


class CrmReceiver:
    def __init__(
        self,
        secret: str,
        log_file: Path | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.secret = secret.encode()
        self.log_file = log_file
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.rejected = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _accept(self, headers: dict[str, str], body: bytes) -> int:
        stamp = headers.get("x-hub-timestamp", "")
        expected = "sha256=" + hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-hub-signature-256", "")):
            with self.lock:
                self.rejected += 1
            return 401
        try:
            event = json.loads(body)
        except ValueError:
            return 400
        if event.get("type") == "hub.ping":
            return 200
        with self.lock:
            if event.get("event_id") in self.seen:
                return 200
            self.seen.add(str(event.get("event_id")))
            self.events.append(event)
            if self.log_file is not None:
                with self.log_file.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(event, ensure_ascii=False) + "\n")
        if self.on_event is not None:
            self.on_event(event)
        return 200

    def start(self, port: int = 0) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver._accept({k.lower(): v for k, v in self.headers.items()}, body)
                payload = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="demo-crm").start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/hook"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
