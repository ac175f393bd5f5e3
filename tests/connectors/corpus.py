"""The dev corpus as the connector tests read it: one connector's labels and raw items."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.evaluate import load_labels
from hub.importer import file_time
from hub.models import RawItem
from hub.registry import get_connector


def dev_captures(
    dev_corpus: Path, name: str
) -> tuple[dict[str, dict[str, Any]], list[tuple[RawItem, datetime]]]:
    """Labels of connector ``name`` by native id, and every raw item of its captures with the capture time."""
    folder = dev_corpus / name
    if not folder.is_dir():
        pytest.skip(f"no {name} captures in {dev_corpus}")
    labels = {label["native_id"]: label for label in load_labels(dev_corpus) if label["connector"] == name}
    connector = get_connector(name)
    items: list[tuple[RawItem, datetime]] = []
    for path in sorted(folder.glob("*.json")):
        received = file_time(path)
        items += [
            (raw, received)
            for raw in connector.split_capture(path.read_bytes(), instance="dev", received_at=received)
        ]
    return labels, items
