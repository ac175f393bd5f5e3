"""``hub check [NAME]``: every configured connector's and sink's live check, as a pass/fail table."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from hub.cli.app import app, console, fail, open_config
from hub.config import ConnectorInstance, HubConfig, SinkInstance, validation_problems
from hub.connector import secret_values
from hub.errors import AuthError, CheckFailed, ConnectorError, HubError
from hub.http import scrub
from hub.mapping import load_mapping
from hub.polling import configure_instance
from hub.registry import get_sink

__all__ = ["CheckResult", "run_check"]

FIX_CONFIG = "fix it in hub.yaml; `hub config validate` lists every problem"


@dataclass
class CheckResult:
    name: str
    kind: str  # connector | sink
    type: str
    result: str  # ok | FAIL | skipped
    reason: str
    hint: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.result == "FAIL"


def _configure(config: HubConfig, kind: str, inst: ConnectorInstance | SinkInstance) -> tuple[Any, Any]:
    if isinstance(inst, ConnectorInstance):
        return configure_instance(config, inst)
    plugin = get_sink(inst.type)
    try:
        cfg = plugin.configure(inst.config)
    except ValidationError as exc:
        problems = validation_problems(exc, prefix=f"sinks[{inst.name}].config", model=plugin.Config)
        raise HubError("; ".join(str(p) for p in problems)) from None
    if inst.mapping:
        load_mapping(inst.mapping, sink_type=inst.type)
    return plugin, cfg


def run_check(config: HubConfig, inst: ConnectorInstance | SinkInstance) -> CheckResult:
    """Configure ``inst`` and run its plugin's ``check``; never raises, never shows a secret."""
    kind = "connector" if isinstance(inst, ConnectorInstance) else "sink"
    result = CheckResult(inst.name, kind, inst.type, "FAIL", "")
    start = time.monotonic()
    try:
        plugin, cfg = _configure(config, kind, inst)
    except HubError as exc:
        result.reason, result.hint = str(exc), FIX_CONFIG
        return result
    secrets = secret_values(cfg)
    try:
        plugin.check(cfg)
    except NotImplementedError:
        result.result, result.reason = "skipped", f"the {inst.type} plugin has no live check"
    except CheckFailed as exc:
        result.reason, result.hint = exc.reason, exc.hint
    except AuthError as exc:
        result.reason, result.hint = f"credentials refused: {exc}", "check the credentials in its config"
    except ConnectorError as exc:
        result.reason, result.hint = str(exc), "check the address and the network"
    except Exception as exc:  # a plugin bug: still one row of the table
        result.reason = f"{type(exc).__name__}: {exc}"
    else:
        result.result, result.reason = "ok", "reached and authenticated"
    result.seconds = time.monotonic() - start
    result.reason, result.hint = scrub(result.reason, secrets), scrub(result.hint, secrets)
    return result


@app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="only this connector or sink instance")] = None,
) -> None:
    """Reach and authenticate every configured connector and sink; a pass/fail table with what to do."""
    config = open_config()
    everything: list[ConnectorInstance | SinkInstance] = [*config.connectors, *config.sinks]
    targets = everything
    if name is not None:
        targets = [t for t in everything if t.name == name]
        if not targets:
            names = ", ".join(t.name for t in everything) or "none configured"
            raise fail(f"no connector or sink named {name!r} in the configuration ({names})")
    if not targets:
        console.print(
            "nothing to check: no connectors or sinks in the configuration (`hub init`)", highlight=False
        )
        return
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        results = list(pool.map(lambda t: run_check(config, t), targets))
    table = Table("name", "type", "result", "reason", "what to do", title=None, show_lines=False)
    for r in results:
        style = {"ok": "green", "FAIL": "bold red"}.get(r.result, "yellow")
        table.add_row(
            Text(r.name),
            Text(f"{r.kind}: {r.type}"),
            Text(r.result, style=style),
            Text(r.reason + (f" ({r.seconds:.1f} s)" if r.result == "ok" else "")),
            Text(r.hint),
        )
    console.print(table, width=None if console.is_terminal else max(console.width, 240))
    failed = sum(r.failed for r in results)
    ok = sum(r.result == "ok" for r in results)
    console.print(f"checks: {ok} ok, {failed} failing, {len(results) - ok - failed} skipped", highlight=False)
    if failed:
        raise typer.Exit(1)
