"""The hub's configuration file (``HUB_CONFIG``, default ``hub.yaml``), validated by pydantic.

Outline (firm, see ARCHITECTURE.md)::

    connectors: [{name, type, interval, config}]
    sinks:      [{name, type, mapping, config}]

plus the core's own sections, all optional with working defaults:
``ingest``, ``matching``, ``understand``, ``sla``. ``${VAR}`` in any string is
replaced by the environment variable ``VAR``; a missing variable is an error
naming it.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.errors import ConfigError
from hub.understand import UnderstandSettings

__all__ = ["HubConfig", "IngestSettings", "MatchingSettings", "SlaSettings", "load_config"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str | float) -> float:
    """Seconds from ``30s``, ``5m``, ``1h``, ``2d``, ``500ms`` or a bare number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        msg = f"{value!r} is not a duration (like 30s, 5m, 1h)"
        raise ValueError(msg)
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


class ConnectorInstance(_Strict):
    name: str = Field(min_length=1, max_length=128)
    type: str
    interval: str = "60s"
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            msg = "must be positive"
            raise ValueError(msg)
        return value

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)


class DeliverySettings(_Strict):
    """Retries, dead letters and the circuit breaker of one sink."""

    #: attempts before an outbox row goes to dead letter
    max_attempts: int = Field(default=8, ge=1, le=100)
    #: first retry after about this many seconds, doubling each time (with jitter) ...
    backoff_seconds: float = Field(default=2.0, gt=0)
    #: ... up to this many
    backoff_max_seconds: float = Field(default=600.0, gt=0)
    #: consecutive failed calls that open the circuit breaker (the sink is skipped for a while)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=60.0, ge=0)


class SinkInstance(_Strict):
    name: str = Field(min_length=1, max_length=128)
    type: str
    mapping: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)


class IngestSettings(_Strict):
    #: items larger than this go to quarantine instead of being parsed
    max_item_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    #: raw items processed per database transaction
    batch_size: int = Field(default=200, ge=1, le=10_000)


class MatchingSettings(_Strict):
    """Which cascade steps run, and their windows and thresholds."""

    use_thread: bool = True
    use_order: bool = True
    use_tracking: bool = True
    use_customer: bool = True
    use_name: bool = True
    #: how far back the same customer's open case is considered (hours)
    customer_window_hours: float = Field(default=24 * 21, gt=0)
    #: minimum text similarity (0-100) to join a same-customer case without a shared number
    similarity_threshold: float = Field(default=35.0, ge=0, le=100)
    #: the same-named person on another identity is considered this far back (hours)
    name_window_hours: float = Field(default=72, gt=0)
    #: and must write this similar a text (0-100); names alone never merge two customers
    name_similarity_threshold: float = Field(default=55.0, ge=0, le=100)
    #: at most this many of the customer's most recent cases are compared
    max_customer_candidates: int = Field(default=10, ge=1, le=200)
    #: a follow-up within this many days reopens a closed case; later it opens a linked new one
    reopen_window_days: float = Field(default=14, ge=0)

    @property
    def customer_window(self) -> timedelta:
        return timedelta(hours=self.customer_window_hours)

    @property
    def name_window(self) -> timedelta:
        return timedelta(hours=self.name_window_hours)


class SlaSettings(_Strict):
    """Hours until a case is due, per severity, overridable per category."""

    hours: dict[str, float] = Field(default_factory=lambda: {"severe": 4.0, "general": 48.0})
    category_hours: dict[str, dict[str, float]] = Field(default_factory=dict)

    def due_hours(self, category: str, severity: str) -> float:
        return self.category_hours.get(category, {}).get(severity, self.hours.get(severity, 48))


class RuntimeSettings(_Strict):
    """The scheduler's periodic tasks and the workers' limits."""

    deliver_interval: str = "2s"
    sla_sweep_interval: str = "60s"
    housekeeping_interval: str = "1h"
    #: hard time limit of any task (seconds); a poll or delivery pass is cut off after it
    task_time_limit: int = Field(default=600, ge=30)
    #: poll and delivery locks last this long unless renewed as work progresses,
    #: so a worker killed mid-task blocks the next one for at most this long
    lock_seconds: float = Field(default=60, gt=0)


class HubConfig(_Strict):
    #: connector plugins allowed to load (entry-point names); None allows every installed one
    connector_allowlist: list[str] | None = None
    connectors: list[ConnectorInstance] = Field(default_factory=list)
    sinks: list[SinkInstance] = Field(default_factory=list)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    understand: UnderstandSettings = Field(default_factory=UnderstandSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

    @model_validator(mode="after")
    def _unique_names(self) -> HubConfig:
        for kind, items in (("connectors", self.connectors), ("sinks", self.sinks)):
            names = [i.name for i in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                msg = f"{kind}: instance names must be unique; repeated: {', '.join(dupes)}"
                raise ValueError(msg)
        return self


def _substitute(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                msg = f"{where}: environment variable {name} is not set"
                raise ConfigError(msg)
            return os.environ[name]

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_config(path: str | Path | None = None) -> HubConfig:
    """Load and validate the configuration; no file means all defaults.

    Raises:
        ConfigError: naming the file, the location and the problem (never a secret's value).
    """
    explicit = path is not None or "HUB_CONFIG" in os.environ
    file = Path(path or os.environ.get("HUB_CONFIG", "hub.yaml"))
    if not file.exists():
        if explicit:
            msg = f"configuration file {file} not found"
            raise ConfigError(msg)
        return HubConfig()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        msg = f"{file}: not valid YAML: {exc}"
        raise ConfigError(msg) from None
    data = _substitute(data, str(file))
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_input=False)
        )
        msg = f"{file}: {problems}"
        raise ConfigError(msg) from None
