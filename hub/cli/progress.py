"""Progress reporting: a rich bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.cli.app import err_console

T = TypeVar("T")

__all__ = ["track"]


def track(items: Iterable[T], *, total: int, label: str, every: int = 1000) -> Iterator[T]:
    """Yield ``items`` while showing progress on stderr."""
    if err_console.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[progress.percentage]{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task(label, total=total)
            for item in items:
                yield item
                progress.advance(task)
        return
    start = time.monotonic()
    for n, item in enumerate(items, 1):
        yield item
        if n % every == 0 or n == total:
            rate = n / max(time.monotonic() - start, 1e-9)
            eta = (total - n) / rate if rate else 0
            err_console.print(f"{label}: {n}/{total} items, {rate:.0f}/s, eta {eta:.0f}s", highlight=False)
