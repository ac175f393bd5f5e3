"""Generic signed webhook sink (the firm contract in ARCHITECTURE.md).

Each delivery is ``POST <url>`` with ``{"event_id", "type", "sequence",
"occurred_at", "case"}`` (the case in the export shape) and the headers
``X-Hub-Event-Id``, ``X-Hub-Timestamp`` and ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. Any 2xx is
success; 429, 5xx and timeouts are retried (honouring ``Retry-After``); other
4xx go to dead letter at once with the response body. A redelivery repeats
the same ``event_id`` so the receiver can drop duplicates.

Config: ``url``, ``secret`` (SecretStr), ``timeout``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from pydantic import SecretStr

from hub.connector import ConnectorConfig
from hub.errors import CheckFailed, ConnectorError
from hub.http import HttpClient
from hub.sink import Delivery, DeliveryResult, SinkConnector, deliver_each

__all__ = ["WebhookConfig", "WebhookSink", "sign"]


class WebhookConfig(ConnectorConfig):
    url: str
    secret: SecretStr
    timeout: float = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSink(SinkConnector):
    name = "webhook"
    Config = WebhookConfig
    max_batch = 1

    def _client(self, config: WebhookConfig) -> HttpClient:
        secret = config.secret.get_secret_value()
        return HttpClient(config.url, timeout=config.timeout, attempts=1, secrets=[secret])

    def check(self, config: Any) -> None:
        """Send a signed ``hub.ping`` event; the receiver must answer 2xx."""
        body = json.dumps({"event_id": "evt_ping", "type": "hub.ping", "sequence": 0}).encode()
        try:
            self._post(self._client(config), config, "evt_ping", body)
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check the URL, and that the receiver uses the same secret") from None

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)

        def send(d: Delivery) -> str:
            payload = {
                "event_id": d.event_id,
                "type": d.type,
                "sequence": d.sequence,
                "occurred_at": d.occurred_at,
                "case": d.case,
            }
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            self._post(client, config, d.event_id, body)
            return d.case_id

        return deliver_each(deliveries, send)

    @staticmethod
    def _post(client: HttpClient, config: WebhookConfig, event_id: str, body: bytes) -> None:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Event-Id": event_id,
            "X-Hub-Timestamp": stamp,
            "X-Hub-Signature-256": sign(config.secret.get_secret_value(), stamp, body),
        }
        client.request("POST", config.url, data=body, headers=headers)
