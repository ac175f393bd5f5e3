"""Progress reporting: a rich bar with rate and ETA on a terminal, plain lines otherwise.

:func:`track` wraps an iterable of known length; :func:`counter` is for work whose total
is unknown (or only a cap, like a poll's ``--max-items``): the caller reports the count so
far, e.g. after each batch, and gets a line per report when not on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hub.cli.app import err_console

T = TypeVar("T")

__all__ = ["Counter", "counter", "track"]


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


class Counter:
    """Progress of work with an unknown total: call :meth:`update` with the count so far."""

    def __init__(self, label: str, total: int | None, progress: Progress | None) -> None:
        self.label = label
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self._progress = progress
        self._task: TaskID | None = progress.add_task(label, total=total) if progress else None

    @property
    def rate(self) -> float:
        return self.count / max(time.monotonic() - self.started, 1e-9)

    def update(self, count: int, note: str = "") -> None:
        """``count`` items done so far (``note``: e.g. the batch number, plain lines only)."""
        self.count = count
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=count)
            return
        line = f"{self.label}: {count}{f'/{self.total}' if self.total else ''} items, {self.rate:.0f}/s"
        if self.total:
            eta = (self.total - count) / self.rate if self.rate else 0
            line += f", eta {max(eta, 0):.0f}s"
        else:
            line += f", {time.monotonic() - self.started:.0f}s elapsed"
        err_console.print(f"{line}{f' ({note})' if note else ''}", highlight=False)


@contextmanager
def counter(label: str, *, total: int | None = None) -> Iterator[Counter]:
    """A :class:`Counter` on stderr: a bar (pulsing without ``total``) with rate on a terminal."""
    if not err_console.is_terminal:
        yield Counter(label, total, None)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn() if total else TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        yield Counter(label, total, progress)
