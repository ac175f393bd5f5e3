"""Plugin discovery through entry points: ``hub.connectors`` (sources) and ``hub.sinks``.

The core never imports a plugin module by name; it asks the registry, which
loads plugins lazily and answers a typo with the closest names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from hub.errors import UnknownConnector

if TYPE_CHECKING:
    from hub.connector import SourceConnector
    from hub.sink import SinkConnector

__all__ = [
    "ENTRY_POINT_GROUP",
    "SINK_ENTRY_POINT_GROUP",
    "available",
    "available_sinks",
    "get_connector",
    "get_sink",
]

ENTRY_POINT_GROUP = "hub.connectors"
SINK_ENTRY_POINT_GROUP = "hub.sinks"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def available() -> list[str]:
    """Names of every installed source connector plugin, sorted."""
    return sorted(_entry_points(ENTRY_POINT_GROUP))


def available_sinks() -> list[str]:
    """Names of every installed sink plugin, sorted."""
    return sorted(_entry_points(SINK_ENTRY_POINT_GROUP))


def get_connector(name: str, allow: Iterable[str] | None = None) -> SourceConnector:
    """The source connector registered as ``name`` (one shared instance).

    Args:
        allow: the configuration's allow-list; None allows every installed plugin.

    Raises:
        UnknownConnector: with a "did you mean" hint when the name is close to one.
    """
    connector: SourceConnector = _checked(ENTRY_POINT_GROUP, "connector", name, allow)
    return connector


def get_sink(name: str, allow: Iterable[str] | None = None) -> SinkConnector:
    """The sink registered as ``name`` (one shared instance); errors as :func:`get_connector`."""
    sink: SinkConnector = _checked(SINK_ENTRY_POINT_GROUP, "sink", name, allow)
    return sink


def _checked(group: str, kind: str, name: str, allow: Iterable[str] | None) -> Any:
    if allow is not None and name not in set(allow):
        msg = f"{kind} {name!r} is installed but not in the allow-list ({', '.join(sorted(allow))})"
        raise UnknownConnector(msg)
    return _load(group, kind, name)


@cache
def _load(group: str, kind: str, name: str) -> Any:
    eps = _entry_points(group)
    if name not in eps:
        close = difflib.get_close_matches(name, eps, n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(sorted(eps)) or 'none'}"
        )
        msg = f"no {kind} {name!r}{hint}"
        raise UnknownConnector(msg)
    return eps[name].load()()
