"""Declarative field mappings from a unified case to a sink's record (``mappings/*.yaml``).

A mapping file is data that ops copy and edit::

    sink: zendesk
    fields:
      subject: "[{{ case.category }}] {{ case.case_id }} {{ first_text[:60] }}"   # a template
      priority:                                                                  # a value map
        from: case.severity
        map: {severe: urgent, general: normal}
        default: normal
      tags: {from: case.order_nos}                                               # a value as is
    defaults:
      type: problem

Templates are Jinja2 in a sandbox (no attribute access to Python internals) with
``case`` (the export shape), ``event`` (type, sequence, event id) and a few
helpers (``first_text``, ``last_text``). Files are validated when loaded: every
problem is reported with the file, the key and what is wrong.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.errors import ConfigError

__all__ = ["FieldSpec", "Mapping", "load_mapping"]

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class FieldSpec(BaseModel):
    """How one target field gets its value: a template, or a path with an optional value map."""

    model_config = ConfigDict(extra="forbid")

    template: str | None = None
    from_: str | None = Field(default=None, alias="from")
    map: dict[str, Any] | None = None
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.template is None) == (self.from_ is None):
            msg = "give exactly one of 'template' or 'from'"
            raise ValueError(msg)
        if self.template is not None:
            try:
                _ENV.parse(self.template)
            except TemplateSyntaxError as exc:
                msg = f"template syntax error on line {exc.lineno}: {exc.message}"
                raise ValueError(msg) from None
        return self


class Mapping(BaseModel):
    """A validated mapping file."""

    model_config = ConfigDict(extra="forbid")

    sink: str
    fields: dict[str, FieldSpec]
    defaults: dict[str, Any] = Field(default_factory=dict)
    path: str = ""

    def render(self, case: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """The target record's fields for ``case`` at ``event``."""
        texts = [m.get("text") or "" for m in case.get("messages", [])]
        context = {
            "case": case,
            "event": event,
            "first_text": texts[0] if texts else "",
            "last_text": texts[-1] if texts else "",
        }
        out: dict[str, Any] = dict(self.defaults)
        for name, spec in self.fields.items():
            value = self._value(name, spec, context)
            if value is not None:
                out[name] = value
        return out

    def _value(self, name: str, spec: FieldSpec, context: dict[str, Any]) -> Any:
        if spec.template is not None:
            try:
                value: Any = _compiled(spec.template).render(**context).strip()
            except Exception as exc:
                msg = f"{self.path}: fields.{name}: template failed: {exc}"
                raise ConfigError(msg) from None
        else:
            value = _lookup(context, spec.from_ or "")
        if spec.map is not None:
            value = spec.map.get(str(value), spec.default) if value is not None else spec.default
        elif value in (None, "", []):
            value = spec.default
        return value


@cache
def _compiled(template: str) -> Template:
    """Compile each distinct template once (compiling dominates rendering otherwise)."""
    return _ENV.from_string(template)


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value


def _normalise(raw: Any) -> Any:
    """A bare string field is a template; a dict is a full spec."""
    if isinstance(raw, dict) and isinstance(raw.get("fields"), dict):
        raw = dict(raw)
        raw["fields"] = {k: {"template": v} if isinstance(v, str) else v for k, v in raw["fields"].items()}
    return raw


def load_mapping(path: str | Path, *, sink_type: str | None = None) -> Mapping:
    """Load and validate a mapping file (cached per path and modification time)."""
    file = Path(path)
    if not file.exists():
        siblings = sorted(p.name for p in file.parent.glob("*.yaml")) if file.parent.exists() else []
        close = difflib.get_close_matches(file.name, siblings, n=1)
        hint = f"; did you mean {file.parent / close[0]}?" if close else ""
        msg = f"mapping file {file} not found{hint}"
        raise ConfigError(msg)
    mapping = _load(str(file.resolve()), file.stat().st_mtime_ns)
    if sink_type is not None and mapping.sink != sink_type:
        msg = f"{file}: sink: is {mapping.sink!r} but the sink using it has type {sink_type!r}"
        raise ConfigError(msg)
    return mapping


@cache
def _load(path: str, _mtime: int) -> Mapping:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot read mapping: {exc}"
        raise ConfigError(msg) from None
    try:
        mapping = Mapping.model_validate({**(_normalise(data) or {}), "path": path})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        msg = f"{path}: {problems}"
        raise ConfigError(msg) from None
    return mapping
