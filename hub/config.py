"""The hub's configuration file (``HUB_CONFIG``, default ``hub.yaml``), validated by pydantic.

Outline (firm, see ARCHITECTURE.md)::

    connectors: [{name, type, interval, config}]
    sinks:      [{name, type, mapping, config}]

plus the core's own sections, all optional with working defaults:
``ingest``, ``matching``, ``understand``, ``sla``, ``runtime``, ``alerts``, ``teams``.

Secret references, in any string: ``${VAR}`` is replaced by the environment
variable ``VAR``, ``${file:/run/secrets/imap}`` by the content of that file
(without its final line break; a relative path is relative to the
configuration file's folder). A missing variable or file is an error naming it,
never its value. Values that came from a reference are scrubbed from every
validation message and registered with :mod:`hub.logs`, so they are masked in logs.

:func:`load_config` stops at the first problem (what the hub does at start-up);
:func:`validate_config_file` (``hub config validate``) checks the whole file,
including each connector's and sink's own ``config:`` model, mapping files and
plugin names, and returns every :class:`Problem` with its location and a hint.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from hub.errors import ConfigError, HubError
from hub.understand import UnderstandSettings

__all__ = [
    "AlertSettings",
    "HubConfig",
    "IngestSettings",
    "MatchingSettings",
    "Problem",
    "SlaSettings",
    "friendly_message",
    "load_config",
    "validate_config_file",
    "validation_problems",
]

#: ``${VAR}`` or ``${file:/path}``
_REF = re.compile(r"\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*))\}")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # kept for callers of the old name
#: keys and variable names whose values are secrets (masked in logs even from ${VAR})
_SECRETISH = re.compile(r"pass|secret|token|key|salt|auth|credential|pwd|private", re.IGNORECASE)


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
    #: a shipment without a courier scan for this long opens a proactive logistics case
    stalled_shipment_hours: float = Field(default=48.0, gt=0)

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


class AlertSettings(_Strict):
    """When a connector's state becomes a health problem (``hub status``, the UI, ``/metrics``)."""

    #: a connector failing this many polls in a row is a health problem
    failing_polls: int = Field(default=3, ge=1, le=10_000)
    #: a connector with no successful poll for this long is a health problem (its lag); "0" = off
    max_lag: str = "1h"
    #: credentials (``credentials_expire_at`` of a connector or sink) expiring within this many
    #: days are a health problem; 0 = off
    credentials_expiry_days: int = Field(default=7, ge=0, le=3650)

    @field_validator("max_lag")
    @classmethod
    def _lag(cls, value: str) -> str:
        if parse_duration(value) < 0:
            msg = "must not be negative"
            raise ValueError(msg)
        return value

    @property
    def max_lag_seconds(self) -> float:
        return parse_duration(self.max_lag)


class TeamSettings(_Strict):
    """A team of agents and the cases it works.

    A case belongs to the team when its category is in ``categories`` or one of its messages came
    on a channel in ``channels``. An empty list adds nothing to that test; a team with both lists
    empty works every case ("any").
    """

    name: str = Field(min_length=1, max_length=64)
    categories: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)

    @property
    def covers_all(self) -> bool:
        return not self.categories and not self.channels


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
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    #: agents' teams; when any is configured, an agent works only the cases of their own teams
    teams: list[TeamSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> HubConfig:
        named: tuple[tuple[str, list[Any]], ...] = (
            ("connectors", self.connectors),
            ("sinks", self.sinks),
            ("teams", self.teams),
        )
        for kind, items in named:
            names = [i.name for i in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                what = "team" if kind == "teams" else "instance"
                msg = f"{kind}: {what} names must be unique; repeated: {', '.join(dupes)}"
                raise ValueError(msg)
        return self


@dataclass(frozen=True)
class Problem:
    """One problem of a configuration: where (``connectors[2].config.port``), what, and what to do."""

    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}; {self.hint}" if self.hint else text


# -- secret references -------------------------------------------------------------------------


@dataclass
class _Substitution:
    """What substituting references found: values to scrub, secrets to mask, problems."""

    base: Path
    problems: list[Problem] | None = None  # None: raise at the first problem
    values: set[str] | None = None
    secrets: set[str] | None = None

    def __post_init__(self) -> None:
        self.values = set() if self.values is None else self.values
        self.secrets = set() if self.secrets is None else self.secrets

    def problem(self, where: str, message: str, hint: str) -> None:
        if self.problems is None:
            msg = f"{where}: {message}"
            raise ConfigError(msg)
        self.problems.append(Problem(where, message, hint))


def _read_secret_file(ref: str, base: Path) -> str:
    """The content of a ``${file:...}`` reference without its final line break (OSError if unreadable)."""
    path = Path(ref.strip()).expanduser()
    if not path.is_absolute():
        path = base / path
    text = path.read_text(encoding="utf-8")
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _substitute(value: Any, where: str, sub: _Substitution | None = None) -> Any:
    """``value`` with every ``${VAR}`` and ``${file:...}`` replaced (recursively)."""
    sub = sub if sub is not None else _Substitution(Path.cwd())
    if isinstance(value, str):
        key = re.split(r"[.\[]", where)[-1]

        def repl(m: re.Match[str]) -> str:
            file_ref, name = m.group(1), m.group(2)
            if file_ref is not None:
                try:
                    found = _read_secret_file(file_ref, sub.base)
                except FileNotFoundError:
                    sub.problem(
                        where,
                        f"secret file {file_ref.strip()} not found",
                        "create it (one line, the secret) or fix the path",
                    )
                    return m.group(0)
                except (OSError, UnicodeDecodeError) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                    sub.problem(where, f"secret file {file_ref.strip()} cannot be read: {reason}", "")
                    return m.group(0)
                assert sub.secrets is not None
                sub.secrets.add(found)
            else:
                if name not in os.environ:
                    sub.problem(
                        where,
                        f"environment variable {name} is not set",
                        f"export {name}=..., or write ${{file:/path/to/secret}} instead",
                    )
                    return m.group(0)
                found = os.environ[name]
                if _SECRETISH.search(name) or _SECRETISH.search(key):
                    assert sub.secrets is not None
                    sub.secrets.add(found)
            assert sub.values is not None
            sub.values.add(found)
            return found

        return _REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}" if where else str(k), sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]", sub) for i, v in enumerate(value)]
    return value


def _literal_secrets(value: Any, key: str = "") -> set[str]:
    """Plain strings written under secret-looking keys (``password: hunter2``): scrubbed too."""
    found: set[str] = set()
    if isinstance(value, str):
        if key and _SECRETISH.search(key) and value and not _REF.search(value):
            found.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            found |= _literal_secrets(v, str(k))
    elif isinstance(value, list):
        for v in value:
            found |= _literal_secrets(v, key)
    return found


def _register_secrets(values: Iterable[str]) -> None:
    from hub.logs import register_secrets

    register_secrets(values)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# -- friendly validation messages ---------------------------------------------------------------

_TYPE_WORDS = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
    "missing": "is required",
    "none_required": "must be empty",
    "url_parsing": "must be a URL",
    "url_scheme": "must be a URL",
    "url_type": "must be a URL",
    "json_invalid": "must be valid JSON",
    "datetime_parsing": "must be a date and time (2026-09-01T08:00:00Z)",
    "date_parsing": "must be a date (2026-09-01)",
    "timedelta_parsing": "must be a duration",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
}


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def friendly_message(error: ErrorDetails | dict[str, Any]) -> str:
    """A pydantic error as an operator reads it: "Input should be less than or equal to 65535" -> "must be at most 65535"."""
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    if kind == "less_than_equal":
        return f"must be at most {_num(ctx.get('le'))}"
    if kind == "less_than":
        return f"must be less than {_num(ctx.get('lt'))}"
    if kind == "greater_than_equal":
        return f"must be at least {_num(ctx.get('ge'))}"
    if kind == "greater_than":
        return f"must be more than {_num(ctx.get('gt'))}"
    if kind == "multiple_of":
        return f"must be a multiple of {_num(ctx.get('multiple_of'))}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must be at least {_plural(n, 'character')} long"
    if kind == "string_too_long":
        return f"must be at most {_plural(ctx.get('max_length'), 'character')} long"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must have at least {_plural(n, 'item')}"
    if kind == "too_long":
        return f"must have at most {_plural(ctx.get('max_length'), 'item')}"
    if kind == "string_pattern_mismatch" and "https?://" in str(ctx.get("pattern", "")):
        return "must be a URL (http:// or https://)"
    if kind == "string_pattern_mismatch":
        return f"does not have the expected form (pattern {ctx.get('pattern')})"
    if kind == "extra_forbidden":
        return "unknown setting"
    if kind in ("value_error", "assertion_error"):
        msg = str(error.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        return msg
    if kind in _TYPE_WORDS:
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return _TYPE_WORDS[kind].format(expected=expected or "the allowed values")
    msg = str(error.get("msg", "invalid"))
    return msg[:1].lower() + msg[1:] if msg.startswith("Input should") else msg


_UNION_TAG = re.compile(
    r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|none|json-or-python\[.*\]|[a-z-]+\[.*\])$"
)


def _clean_loc(loc: Iterable[int | str]) -> list[int | str]:
    """The location without pydantic's union member tags (``str``, ``function-after[...]``)."""
    return [p for p in loc if isinstance(p, int) or not _UNION_TAG.match(p)]


def format_location(loc: Iterable[int | str], prefix: str = "") -> str:
    """``('connectors', 2, 'config', 'port')`` -> ``connectors[2].config.port``."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _unwrap_optional(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return [tp]


def _step(tp: Any, part: int | str) -> Any:
    """The type found at ``part`` inside ``tp`` (a model field, a list item, a dict value), or None."""
    for option in _unwrap_optional(tp):
        origin, args = get_origin(option), get_args(option)
        if origin in (list, tuple, set, frozenset) and isinstance(part, int):
            return args[0] if args else None
        if origin is dict and args:
            return args[1]
        if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(part, str):
            for name, info in option.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
    return None


def _keys_at(model: type[BaseModel], loc: list[int | str]) -> list[str]:
    """The setting names allowed where ``loc`` points (for "did you mean")."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    for option in _unwrap_optional(tp):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return [info.alias or name for name, info in option.model_fields.items()]
    return []


def _unknown_key_hint(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known settings: {', '.join(allowed)}" if allowed else ""


def validation_problems(
    exc: ValidationError,
    *,
    prefix: str = "",
    model: type[BaseModel] | None = None,
    secrets: Iterable[str] = (),
) -> list[Problem]:
    """Every error of ``exc`` as a :class:`Problem`; never shows an input value, scrubs ``secrets``."""
    secrets = list(secrets)
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_input=False, include_url=False):
        loc = _clean_loc(error["loc"])
        where = format_location(loc, prefix)
        if where in seen:  # a union reports each member's error: the first says enough
            continue
        seen.add(where)
        message = _scrub(friendly_message(error), secrets)
        hint = ""
        if error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str) and model is not None:
            hint = _unknown_key_hint(loc[-1], _keys_at(model, loc[:-1]))
        problems.append(Problem(where, message, _scrub(hint, secrets)))
    return problems


# -- loading -----------------------------------------------------------------------------------


def _config_file(path: str | Path | None) -> tuple[Path, bool]:
    explicit = path is not None or "HUB_CONFIG" in os.environ
    return Path(path or os.environ.get("HUB_CONFIG", "hub.yaml")), explicit


def _yaml_problem(file: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "not valid YAML"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{file}: not valid YAML{where}: {problem}"


def load_config(path: str | Path | None = None) -> HubConfig:
    """Load and validate the configuration; no file means all defaults.

    Raises:
        ConfigError: naming the file, the location and the problem (never a secret's value).
    """
    file, explicit = _config_file(path)
    if not file.exists():
        if explicit:
            msg = f"configuration file {file} not found"
            raise ConfigError(msg)
        return HubConfig()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(file, exc)) from None
    sub = _Substitution(file.resolve().parent)
    try:
        data = _substitute(data, "", sub)
    except ConfigError as exc:
        msg = f"{file}: {exc}"
        raise ConfigError(msg) from None
    assert sub.values is not None and sub.secrets is not None
    _register_secrets(sub.secrets | _literal_secrets(data))
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        found = validation_problems(exc, model=HubConfig, secrets=sub.values | _literal_secrets(data))
        msg = f"{file}: {'; '.join(str(p) for p in found)}"
        raise ConfigError(msg) from None


# -- validating the whole file ------------------------------------------------------------------


def _duplicates(data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for kind in ("connectors", "sinks", "teams"):
        items = data.get(kind)
        if not isinstance(items, list):
            continue
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                problems.append(
                    Problem(
                        f"{kind}[{i}].name",
                        f"{name!r} is already the name of {kind}[{first[name]}]",
                        f"{'team' if kind == 'teams' else 'instance'} names must be unique: rename one",
                    )
                )
            else:
                first[name] = i
    return problems


def _plugin_problems(data: dict[str, Any], allow: list[str] | None, scrub: set[str]) -> list[Problem]:
    """Each connector's and sink's type, own ``config:`` model and mapping file."""
    from hub.connector import Capability
    from hub.mapping import load_mapping
    from hub.registry import available, available_sinks, get_connector, get_sink

    problems: list[Problem] = []
    for kind in ("connectors", "sinks"):
        items = data.get(kind)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                continue
            where = f"{kind}[{i}]"
            try:
                plugin: Any = (
                    get_connector(item["type"], allow=allow)
                    if kind == "connectors"
                    else get_sink(item["type"])
                )
            except HubError as exc:
                installed = available() if kind == "connectors" else available_sinks()
                hint = "" if "did you mean" in str(exc) else f"installed: {', '.join(installed) or 'none'}"
                problems.append(Problem(f"{where}.type", _scrub(str(exc), scrub), hint))
                continue
            block = item.get("config", {})
            if isinstance(block, dict):
                try:
                    plugin.configure(block)
                except ValidationError as exc:
                    problems += validation_problems(
                        exc, prefix=f"{where}.config", model=plugin.Config, secrets=scrub
                    )
                except Exception as exc:  # a plugin's own check of its config
                    text = str(exc) if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}"
                    problems.append(Problem(f"{where}.config", _scrub(text, scrub)))
            if kind == "connectors" and not {Capability.POLL, Capability.WEBHOOK} & set(plugin.capabilities):
                problems.append(
                    Problem(
                        f"{where}.type",
                        f"connector {item['type']!r} can only import captured files",
                        "use `hub import` for it instead of configuring an instance",
                    )
                )
            mapping = item.get("mapping")
            if kind == "sinks" and isinstance(mapping, str) and mapping:
                try:
                    load_mapping(mapping, sink_type=item["type"])
                except ConfigError as exc:
                    text = str(exc)
                    if text.startswith("mapping file "):
                        text = "file " + text.removeprefix("mapping file ")
                    problems.append(Problem(f"{where}.mapping", _scrub(text, scrub)))
    return problems


def _understand_problems(config: HubConfig) -> list[Problem]:
    from hub.understand.taxonomy import load_taxonomy

    problems: list[Problem] = []
    try:
        load_taxonomy(config.understand.taxonomy_file())
    except HubError as exc:
        problems.append(Problem("understand.taxonomy_path", str(exc)))
    for field in ("order_patterns", "tracking_patterns"):
        for i, pattern in enumerate(getattr(config.understand, field) or []):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(Problem(f"understand.{field}[{i}]", f"not a valid regular expression: {exc}"))
    return problems


def validate_config_file(path: str | Path | None = None) -> tuple[HubConfig | None, list[Problem]]:
    """Check the whole configuration file and return (the config if valid, every problem found).

    Beyond :func:`load_config`: every missing variable or secret file, each connector's and
    sink's plugin name ("did you mean"), its own ``config:`` model, mapping files, duplicate
    names and the taxonomy file. No problem message contains a secret's value.
    """
    file, explicit = _config_file(path)
    if not file.exists():
        if explicit:
            return None, [Problem(str(file), "configuration file not found", "create one with `hub init`")]
        return HubConfig(), []
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [Problem("", _yaml_problem(file, exc), "fix the indentation or quoting there")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(file), f"cannot be read: {exc}")]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [Problem("", "the file must be a mapping of sections (connectors:, sinks:, ...)")]
    problems: list[Problem] = []
    sub = _Substitution(file.resolve().parent, problems=problems)
    data = _substitute(data, "", sub)
    assert sub.values is not None and sub.secrets is not None
    unresolved = {p.location for p in problems}
    scrub = sub.values | _literal_secrets(data)

    def keep(problem: Problem) -> bool:  # an error caused by a missing reference is said once
        return not any(problem.location == u or problem.location.startswith(u + ".") for u in unresolved)

    config: HubConfig | None = None
    try:
        config = HubConfig.model_validate(data)
    except ValidationError as exc:
        problems += [
            p
            for p in validation_problems(exc, model=HubConfig, secrets=scrub)
            if keep(p) and not (p.location == "" and "must be unique" in p.message)
        ]
    problems += _duplicates(data)
    allow = data.get("connector_allowlist")
    allow = allow if isinstance(allow, list) and all(isinstance(a, str) for a in allow) else None
    problems += [p for p in _plugin_problems(data, allow, scrub) if keep(p)]
    if config is not None:
        problems += _understand_problems(config)
    sections = {key: i for i, key in enumerate(data)}

    def order(problem: Problem) -> tuple[int, list[tuple[int, int | str]]]:
        parts = re.findall(r"\[(\d+)\]|([^.\[\]]+)", problem.location)
        tokens: list[tuple[int, int | str]] = [(0, int(n)) if n else (1, name) for n, name in parts]
        head = parts[0][1] if parts else ""
        return sections.get(head, len(sections)), tokens[:2]

    problems.sort(key=order)
    return (config if not problems else None), problems
