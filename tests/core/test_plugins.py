"""Plugin discovery: a third-party package installed with pip is found through its entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from hub.cli import app
from hub.config import HubConfig
from hub.errors import UnknownConnector
from hub.importer import iter_intakes, plan_import
from hub.pipeline import Pipeline
from hub.registry import _load, available, get_connector

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "hub_demo_connector"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        check=True,
    )
    sys.path.insert(0, str(target))
    _load.cache_clear()
    yield target
    sys.path.remove(str(target))
    _load.cache_clear()


def test_third_party_connector_is_discovered_and_imports(
    installed_plugin: Path, sqlite_engine: Engine, tmp_path: Path
) -> None:
    assert "demo_feed" in available()
    connector = get_connector("demo_feed")
    assert connector.name == "demo_feed"
    feed = tmp_path / "feed.jsonl"
    records = [
        {
            "id": "d1",
            "at": "2026-11-02T01:00:00+00:00",
            "from": "k@example.com",
            "text": "W1234567 arrived broken",
        },
        {
            "id": "d2",
            "at": "2026-11-02T02:00:00+00:00",
            "from": "k@example.com",
            "text": "still broken, W1234567",
        },
    ]
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    _, intakes = iter_intakes(plan_import(feed, "demo_feed"))
    stats = Pipeline(sqlite_engine, HubConfig()).ingest(intakes)
    assert stats.messages == 2 and stats.cases_opened == 1 and stats.cases_joined == 1
    listing = CliRunner().invoke(app, ["connectors", "list"], env={"COLUMNS": "200"})
    assert "demo_feed" in listing.output


def test_allow_list_and_typos() -> None:
    with pytest.raises(UnknownConnector, match="did you mean 'email'"):
        get_connector("emial")
    with pytest.raises(UnknownConnector, match="not in the allow-list"):
        get_connector("x", allow=["email"])
    assert get_connector("email", allow=["email"]).name == "email"
