"""Progress reporting: a rich bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hub.cli.app import err_console

T = TypeVar("T")

__all__ = ["track"]


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "-/s", style="progress.data.speed")


def track(items: Iterable[T], *, total: int, label: str, every: int = 1000) -> Iterator[T]:
    """Yield ``items`` while showing progress on stderr."""
    if err_console.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
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
