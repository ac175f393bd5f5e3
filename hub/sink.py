"""The sink contract: what a downstream plugin (CRM, ERP, webhook) provides.

Sinks are registered under the entry-point group ``hub.sinks`` and found
through :func:`hub.registry.get_sink`; the core never imports one by name.

A sink receives :class:`Delivery` objects (one outbox row each: the event and
the case's current state in the export shape, already mapped by the sink's
mapping file) and returns one :class:`DeliveryResult` per delivery. Delivery is
idempotent in effect: upsert by the hub's case id as external id, idempotency
keys, or "match once then link" using ``Delivery.external_id`` (the target's
record id remembered from an earlier success).

Errors: raise nothing for a single bad delivery; return a result with
``retryable`` set. Raise :class:`~hub.errors.TransientError` /
:class:`~hub.errors.AuthError` when the whole call failed (the core retries or
marks the sink unhealthy). :class:`~hub.http.HttpClient` classifies responses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub.connector import ConnectorConfig
from hub.errors import AuthError, ConnectorError, RateLimited, TransientError

__all__ = ["Delivery", "DeliveryResult", "SinkConnector", "deliver_each"]


@dataclass
class Delivery:
    """One outbox row to deliver."""

    outbox_id: int
    event_id: str
    type: str  # case.created | case.updated | case.merged | case.split | case.sla_breached
    sequence: int
    case_id: str  # public id, e.g. C-000123: the external id on the target side
    occurred_at: str
    case: dict[str, Any]  # the case in the export shape, current state
    fields: dict[str, Any]  # the case mapped by the sink's mapping file
    external_id: str | None = None  # the target's record id, once known
    data: dict[str, Any] = field(default_factory=dict)  # the case event's own data


@dataclass
class DeliveryResult:
    outbox_id: int
    ok: bool
    external_id: str | None = None
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None

    @classmethod
    def success(cls, delivery: Delivery, external_id: str | None = None) -> DeliveryResult:
        return cls(delivery.outbox_id, True, external_id or delivery.external_id)

    @classmethod
    def from_error(cls, delivery: Delivery, exc: ConnectorError) -> DeliveryResult:
        """429 (with its wait) and transient errors are retried; other client errors are permanent."""
        if isinstance(exc, RateLimited):
            return cls.failure(delivery, str(exc), retryable=True, retry_after=exc.retry_after)
        return cls.failure(delivery, str(exc), retryable=isinstance(exc, TransientError))

    @classmethod
    def failure(
        cls, delivery: Delivery, error: str, *, retryable: bool, retry_after: float | None = None
    ) -> DeliveryResult:
        return cls(delivery.outbox_id, False, error=error, retryable=retryable, retry_after=retry_after)


def deliver_each(deliveries: list[Delivery], send: Callable[[Delivery], str | None]) -> list[DeliveryResult]:
    """Deliver one at a time with ``send`` (which returns the target's record id).

    An :class:`~hub.errors.AuthError` stops the whole call (the sink is misconfigured: the outbox
    retries later and opens its circuit); any other connector error becomes that delivery's result.
    """
    results = []
    for d in deliveries:
        try:
            external_id = send(d)
        except AuthError:
            raise
        except ConnectorError as exc:
            results.append(DeliveryResult.from_error(d, exc))
        else:
            results.append(DeliveryResult.success(d, external_id))
    return results


class SinkConnector:
    """Base class of sinks."""

    name: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    #: most deliveries the target takes in one call (1 = no batching)
    max_batch: ClassVar[int] = 1

    def check(self, config: Any) -> None:
        """Reach the target and authenticate; raise ``CheckFailed`` with a reason and hint."""
        raise NotImplementedError(f"sink {self.name!r} must implement check")

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        """Deliver up to :attr:`max_batch` deliveries (of different cases); one result each."""
        raise NotImplementedError(f"sink {self.name!r} must implement deliver")

    def configure(self, data: dict[str, Any]) -> ConnectorConfig:
        return self.Config.model_validate(dict(data))
