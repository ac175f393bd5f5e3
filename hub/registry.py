"""Connector discovery through the entry-point group ``hub.connectors``.

The core never imports a connector module by name; it asks the registry, which
loads plugins lazily and answers a typo with the closest names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from hub.connector import SourceConnector
from hub.errors import UnknownConnector

__all__ = ["ENTRY_POINT_GROUP", "available", "get_connector"]

ENTRY_POINT_GROUP = "hub.connectors"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every installed connector plugin, sorted."""
    return sorted(_entry_points())


def get_connector(name: str, allow: Iterable[str] | None = None) -> SourceConnector:
    """The connector registered as ``name`` (one shared instance).

    Args:
        allow: the configuration's allow-list; None allows every installed plugin.

    Raises:
        UnknownConnector: with a "did you mean" hint when the name is close to one.
    """
    if allow is not None and name not in set(allow):
        msg = f"connector {name!r} is installed but not in the allow-list ({', '.join(sorted(allow))})"
        raise UnknownConnector(msg)
    return _load(name)


@cache
def _load(name: str) -> SourceConnector:
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, eps, n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(sorted(eps)) or 'none'}"
        )
        msg = f"no connector {name!r}{hint}"
        raise UnknownConnector(msg)
    cls = eps[name].load()
    return cls()
