"""``hub import`` and ``hub eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.app import app, console, err_console, fail, open_config, open_engine
from hub.cli.progress import track
from hub.db import refresh_statistics
from hub.evaluate import evaluate
from hub.importer import iter_intakes, plan_import
from hub.pipeline import Pipeline


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="corpus folder (subfolders per connector), or a folder/file")],
    connector: Annotated[
        str | None, typer.Option("--connector", "-c", help="connector reading PATH (one folder or file)")
    ] = None,
    instance: Annotated[
        str | None,
        typer.Option(help="connector instance name to store items under (default: connector name)"),
    ] = None,
) -> None:
    """Import captured raw items through the normal parse, normalise and match path."""
    if not path.exists():
        raise fail(f"{path} does not exist")
    config = open_config()
    plan = plan_import(path, connector)
    total, intakes = iter_intakes(plan, instance_for=lambda name: instance or name)
    engine = open_engine()
    try:
        stats = Pipeline(engine, config).ingest(track(intakes, total=total, label="importing"))
        if stats.messages:
            refresh_statistics(engine)
    finally:
        engine.dispose()
    console.print(stats.summary(), highlight=False)
    if stats.quarantined:
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(stats.reasons.items()))
        err_console.print(f"quarantined: {reasons}; see `hub quarantine list`", highlight=False)


@app.command("eval")
def eval_(
    corpus: Annotated[Path, typer.Argument(help="labelled corpus folder (with labels.jsonl)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    disable: Annotated[
        list[str] | None,
        typer.Option(help="switch a matching step off: thread, order, tracking, customer, name (repeatable)"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list every error")] = False,
) -> None:
    """Import a labelled corpus into a fresh store and print how well the hub did."""
    if not (corpus / "labels.jsonl").exists():
        raise fail(f"{corpus}: no labels.jsonl, not a labelled corpus")
    config = open_config()
    for step in disable or []:
        field = f"use_{step}"
        if not hasattr(config.matching, field):
            raise fail(f"--disable {step}: unknown step (thread, order, tracking, customer, name)")
        setattr(config.matching, field, False)
    report, _ = evaluate(corpus, config)
    if as_json:
        print(report.to_json())
        return
    for line in report.lines():
        console.print(line, highlight=False)
    if verbose:
        for kind, errs in report.errors.items():
            for e in errs:
                console.print(f"  {kind}: {e}", highlight=False, soft_wrap=True)
        for key in report.noise_ids:
            console.print(f"  noise: {key}", highlight=False)
        for key in report.missing:
            console.print(f"  missing: {key}", highlight=False)
