"""`hub quarantine list|show|retry` and `hub customers show` through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.core import samples
from tests.core.test_pipeline import build_corpus


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    return tmp_path


def test_quarantine_list_show_retry(hub_env: Path) -> None:
    runner = CliRunner()
    corpus = build_corpus(hub_env / "corpus")
    samples.write(corpus, "kuaidi100", "20261105T000000Z_bad.json", b'{"status": "polling", "lastResult": ')
    samples.write(corpus, "email", "20261106T000000Z_long.eml", samples.long_email())
    (hub_env / "small.yaml").write_text("ingest:\n  max_item_bytes: 1024\n")
    result = runner.invoke(app, ["import", str(corpus)], env={"HUB_CONFIG": str(hub_env / "small.yaml")})
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output

    listing = runner.invoke(app, ["quarantine", "list"])
    assert listing.exit_code == 0
    assert "truncated JSON" in listing.output and "limit" in listing.output

    bad_id = re.search(r"(\d+)\s*│\s*kuaidi100", listing.output)
    assert bad_id, listing.output
    shown = runner.invoke(app, ["quarantine", "show", bad_id.group(1)])
    assert shown.exit_code == 0, shown.output
    assert "20261105T000000Z_bad.json" in shown.output and "truncated JSON" in shown.output
    none = runner.invoke(app, ["quarantine", "show", "9999"])
    assert none.exit_code == 1 and "no quarantined item 9999" in none.output

    # with the default size cap the oversized items parse; the truncated file stays quarantined
    retried = runner.invoke(app, ["quarantine", "retry", "--all"])
    assert retried.exit_code == 0, retried.output
    assert "still quarantined" in retried.output
    after = runner.invoke(app, ["quarantine", "list"])
    assert "1 quarantined item(s)" in after.output and "truncated JSON" in after.output
    assert "limit" not in after.output


def test_customers_show_and_errors(hub_env: Path) -> None:
    runner = CliRunner()
    corpus = build_corpus(hub_env / "corpus")
    assert runner.invoke(app, ["import", str(corpus)]).exit_code == 0
    shown = runner.invoke(app, ["customers", "show", "+8613912345678"])
    assert shown.exit_code == 0, shown.output
    assert "mei.chen@example.cn" in shown.output and "C-000001" in shown.output
    missing = runner.invoke(app, ["cases", "show", "C-999999"])
    assert missing.exit_code == 1 and "no case C-999999" in missing.output
    typo = runner.invoke(app, ["import", str(corpus / "email"), "--connector", "emial"])
    assert typo.exit_code != 0


def test_cases_merge_and_split_verbs(hub_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(build_corpus(hub_env / "corpus"))]).exit_code == 0
    merged = runner.invoke(app, ["cases", "merge", "C-000001", "C-000002", "--actor", "ops-wu"])
    assert merged.exit_code == 0, merged.output
    assert "merged C-000002 into C-000001" in merged.output
    again = runner.invoke(app, ["cases", "merge", "C-000001", "C-000002"])
    assert again.exit_code == 1 and "already merged" in again.output
    shown = runner.invoke(app, ["cases", "show", "C-000001"])
    ids = re.findall(r"#(\d+)\s", shown.output)
    assert len(ids) >= 2
    split = runner.invoke(app, ["cases", "split", "C-000001", "--messages", ids[-1]])
    assert split.exit_code == 0, split.output
    assert "into C-00000" in split.output
    bad = runner.invoke(app, ["cases", "split", "C-000001", "--messages", "99999"])
    assert bad.exit_code == 1 and "not in C-000001" in bad.output
