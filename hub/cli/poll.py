"""``hub poll [INSTANCE] [--once]``: poll configured connector instances in the foreground."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from hub.cli.app import app, console, err_console, fail, open_config, open_engine
from hub.cli.progress import Counter, counter
from hub.polling import PollResult, find_instance, poll_instance


@app.command("poll")
def poll(
    instance: Annotated[str | None, typer.Argument(help="instance name from hub.yaml (default: all)")] = None,
    once: Annotated[bool, typer.Option("--once", help="one cycle per instance, then exit")] = False,
    max_items: Annotated[int | None, typer.Option(help="stop each cycle after about this many items")] = None,
) -> None:
    """Read new items from connectors, each on its own interval (Ctrl-C stops)."""
    config = open_config()
    instances = [find_instance(config, instance)] if instance else list(config.connectors)
    if not instances:
        raise fail("no connectors configured (see `connectors:` in hub.yaml)")
    engine = open_engine()
    due = {inst.name: 0.0 for inst in instances}
    failed = False
    try:
        while True:
            for inst in instances:
                if time.monotonic() < due[inst.name]:
                    continue
                err_console.print(f"polling {inst.name} ({inst.type}) ...", highlight=False)
                with counter(f"polling {inst.name}", total=max_items) as progress:

                    def report(so_far: PollResult, progress: Counter = progress) -> None:
                        progress.update(so_far.stats.seen, f"batch {so_far.batches}")

                    result = poll_instance(engine, config, inst, max_items=max_items, on_batch=report)
                console.print(result.line(), highlight=False)
                failed = failed or not result.ok
                due[inst.name] = time.monotonic() + inst.interval_seconds
            if once:
                break
            time.sleep(max(0.2, min(due.values()) - time.monotonic()))
    except KeyboardInterrupt:
        err_console.print("stopped")
    finally:
        engine.dispose()
    if once and failed:
        raise typer.Exit(1)
