"""The Celery application: settings that avoid the known pitfalls, and the schedule from hub.yaml.

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a task whose worker dies is redelivered;
  every task is idempotent (state is in the database), so running one twice is harmless.
- ``worker_prefetch_multiplier=1``: a worker holds one task at a time.
- No countdown/ETA tasks at all (Redis' visibility timeout would redeliver long ETAs): retries
  are scheduled in the database (outbox ``next_attempt_at``) and picked up by the next tick.
- Time limits on every task; timeouts on all I/O live in the connectors and sinks.
- The beat schedule comes from the configuration: each connector instance's interval, outbox
  delivery, SLA sweep, housekeeping.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from hub.config import HubConfig, load_config, parse_duration
from hub.logs import bind_celery_task_ids
from hub.runtime import broker_url, is_embedded, result_backend

__all__ = ["app", "beat_schedule", "configure"]

app = Celery("hub", include=["hub.tasks"])


def beat_schedule(config: HubConfig) -> dict[str, dict[str, Any]]:
    """Periodic tasks: one poll entry per connector instance, plus delivery, SLA and housekeeping."""
    schedule: dict[str, dict[str, Any]] = {
        f"poll:{inst.name}": {"task": "hub.poll", "schedule": inst.interval_seconds, "args": (inst.name,)}
        for inst in config.connectors
    }
    runtime = config.runtime
    schedule["deliver"] = {"task": "hub.deliver", "schedule": parse_duration(runtime.deliver_interval)}
    schedule["sla-sweep"] = {"task": "hub.sla_sweep", "schedule": parse_duration(runtime.sla_sweep_interval)}
    schedule["housekeeping"] = {
        "task": "hub.housekeeping",
        "schedule": parse_duration(runtime.housekeeping_interval),
    }
    return schedule


def configure(config: HubConfig | None = None) -> Celery:
    """Bind the app to the broker and schedule (called at process start, never at import)."""
    config = config or load_config()
    bind_celery_task_ids()
    app.conf.update(
        broker_url=broker_url(),
        result_backend=result_backend(),
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=config.runtime.task_time_limit,
        task_soft_time_limit=config.runtime.task_time_limit - 10,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(config),
        timezone="UTC",
    )
    if is_embedded():
        import kombu.transport.sqlalchemy as sqla_transport

        # the transport passes broker_transport_options to create_engine, so set its poll interval here
        sqla_transport.Transport.polling_interval = 0.2
    else:
        app.conf.broker_transport_options = {"visibility_timeout": config.runtime.task_time_limit * 2}
    return app
