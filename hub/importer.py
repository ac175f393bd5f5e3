"""``hub import``: read captured files (a corpus folder, one connector folder, or one file).

Items are fed to the pipeline in order of their own timestamps across all
connectors, as if they had arrived live. Files are scanned once to learn each
item's time and native id, then re-read one at a time while ingesting, so
memory stays flat however large the folder is (files holding several items,
an mbox or an X page, keep their items in memory from the scan instead, so an
mbox is never split twice). A file that cannot be split
into items is offered to the pipeline as one rejected item (quarantined with
its reason), never skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.connector import SourceConnector
from hub.errors import HubError
from hub.models import RawItem, content_hash
from hub.pipeline import Intake
from hub.registry import available, get_connector

__all__ = ["CaptureRef", "iter_intakes", "plan_import"]

_STAMP = re.compile(r"^(\d{8}T\d{6}Z)")


@dataclass(frozen=True, order=True)
class CaptureRef:
    """Where one item lives: sorted by its own time, then file, then position in the file."""

    at: datetime
    path: Path
    index: int
    connector: str


def file_time(path: Path) -> datetime:
    """Capture time from a ``YYYYMMDDTHHMMSSZ_...`` file name, else the file's mtime."""
    m = _STAMP.match(path.name)
    if m:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _files(root: Path, connector: SourceConnector) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in connector.capture_suffixes
    )


def plan_import(path: Path, connector: str | None = None) -> list[tuple[Path, str]]:
    """The (file, connector name) pairs to import from ``path``."""
    if connector:
        conn = get_connector(connector)
        return [(f, connector) for f in _files(path, conn)]
    if path.is_file():
        msg = f"{path} is a single file: say which connector reads it with --connector"
        raise HubError(msg)
    plan: list[tuple[Path, str]] = []
    names = available()
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        if sub.name in names:
            conn = get_connector(sub.name)
            plan += [(f, sub.name) for f in _files(sub, conn)]
    if not plan and path.name in names:  # a single connector's folder, named after it
        return plan_import(path, path.name)
    if not plan:
        msg = f"{path}: no connector folders found (expected subfolders named {', '.join(names)})"
        raise HubError(msg)
    return plan


def _split(path: Path, connector: str, instance: str) -> tuple[list[RawItem], Intake | None]:
    """Items of one file, or one rejected intake when the file cannot be split."""
    data = path.read_bytes()
    received = file_time(path)
    try:
        items = get_connector(connector).split_capture(
            data, instance=instance, received_at=received, source=str(path)
        )
        if not items:
            msg = "no items in file"
            raise HubError(msg)
        return items, None
    except Exception as exc:  # any failure to split: quarantine the whole file
        reason = str(exc) if isinstance(exc, HubError) else f"unreadable capture: {type(exc).__name__}: {exc}"
        raw = RawItem(
            connector=connector,
            instance=instance,
            native_id=f"file:{content_hash(data)[:40]}",
            received_at=received,
            payload=data,
            source=str(path),
        )
        return [], Intake(raw, rejected=reason)


def iter_intakes(
    plan: list[tuple[Path, str]],
    *,
    instance_for: Callable[[str], str] = lambda name: name,
    on_scanned: Callable[[int], None] | None = None,
) -> tuple[int, Iterator[Intake]]:
    """Scan the files, then return (item count, intakes in time order)."""
    refs: list[CaptureRef] = []
    kept: dict[Path, list[RawItem]] = {}
    for path, name in plan:
        items, rejected = _split(path, name, instance_for(name))
        if rejected is not None:
            refs.append(CaptureRef(rejected.raw.received_at, path, -1, name))
        if len(items) > 1:
            kept[path] = items
        refs += [CaptureRef(item.sort_time, path, i, name) for i, item in enumerate(items)]
        if on_scanned:
            on_scanned(len(refs))
    refs.sort()

    def generate() -> Iterator[Intake]:
        for ref in refs:
            if ref.path in kept:
                yield Intake(kept[ref.path][ref.index])
                continue
            items, rejected = _split(ref.path, ref.connector, instance_for(ref.connector))
            if ref.index < 0 and rejected is not None:
                yield rejected
            elif ref.index >= 0 and ref.index < len(items):
                yield Intake(items[ref.index])

    return len(refs), generate()
