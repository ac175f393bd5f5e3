"""Teams: with ``teams:`` configured an agent lists, sees and acts on their teams' cases only (403
outside them); ops and admin see every case; membership through the admin API and ``hub users``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from hub.api import create_app
from hub.cli import app as cli
from hub.config import ConfigError, HubConfig, TeamSettings, load_config
from hub.db import session_scope
from hub.queue import CaseFilter, list_cases
from hub.tables import CaseRow, UserRow
from hub.users import add_user, create_token
from tests.api.helpers import PASSWORD, Team
from tests.core.test_pipeline import build_corpus, run_import

# the corpus: C-000001 product_quality (email, voicemail), C-000002 promotion (mastodon),
# C-000003 product_quality (x), C-000004 logistics (courier)
TEAMS = [
    TeamSettings(name="logistics", categories=["logistics"]),
    TeamSettings(name="social", channels=["mastodon", "x"]),
    TeamSettings(name="quality", categories=["product_quality"], channels=["voicemail"]),
]
MEMBERS = {
    "alice": ("agent", ["logistics"]),
    "bert": ("agent", ["social"]),
    "chen": ("agent", ["logistics", "quality"]),
    "dora": ("agent", []),
    "olga": ("ops", []),
    "ada": ("admin", []),
}


class TeamHub:
    def __init__(self, engine: Engine, client: TestClient, team: Team) -> None:
        self.engine, self.client, self.team = engine, client, team

    def get(self, url: str, who: str) -> Any:
        return self.client.get(url, headers=self.team.auth(who))

    def post(self, url: str, who: str, body: dict[str, Any]) -> Any:
        return self.client.post(url, json=body, headers=self.team.auth(who))

    def ids(self, who: str) -> list[str]:
        r = self.get("/api/cases?status=all", who)
        assert r.status_code == 200, r.text
        return sorted(c["case_id"] for c in r.json()["items"])


@pytest.fixture
def teams_hub(sqlite_engine: Engine, tmp_path: Path) -> Iterator[TeamHub]:
    config = HubConfig(teams=TEAMS)
    run_import(sqlite_engine, build_corpus(tmp_path / "corpus"), config)
    tokens: dict[str, str] = {}
    with session_scope(sqlite_engine) as session:
        for name, (role, teams) in MEMBERS.items():
            add_user(session, name, role, PASSWORD, teams=teams, known_teams=[t.name for t in TEAMS])
            _, tokens[name] = create_token(session, name)
    with TestClient(create_app(sqlite_engine, config)) as client:
        yield TeamHub(sqlite_engine, client, Team(tokens))


def test_agents_list_only_their_teams_cases(teams_hub: TeamHub) -> None:
    everything = ["C-000001", "C-000002", "C-000003", "C-000004"]
    assert teams_hub.ids("olga") == everything
    assert teams_hub.ids("ada") == everything
    assert teams_hub.ids("alice") == ["C-000004"]
    assert teams_hub.ids("bert") == ["C-000002", "C-000003"]  # by channel
    assert teams_hub.ids("chen") == ["C-000001", "C-000003", "C-000004"]  # two teams
    assert teams_hub.ids("dora") == []  # an agent in no team sees no case
    # the team scope is kept under the other filters and in the total
    r = teams_hub.get("/api/cases?status=all&category=product_quality", "bert").json()
    assert [c["case_id"] for c in r["items"]] == ["C-000003"] and r["total"] == 1
    assert teams_hub.get("/api/cases?q=HM20261101-20001", "alice").json()["total"] == 0
    assert teams_hub.get("/api/cases?q=HM20261101-20001", "chen").json()["total"] == 1


def test_agents_get_403_on_cases_outside_their_teams(teams_hub: TeamHub) -> None:
    assert teams_hub.get("/api/cases/C-000004", "alice").status_code == 200
    outside = teams_hub.get("/api/cases/C-000001", "alice")
    assert outside.status_code == 403 and "水壶" not in outside.text
    assert teams_hub.get("/api/cases/C-000099", "alice").status_code == 404
    assert teams_hub.get("/api/cases/C-000001", "olga").status_code == 200
    for path, body in (
        ("notes", {"text": "not mine"}),
        ("assign", {"assignee": "alice"}),
        ("status", {"status": "investigating"}),
        ("correct", {"severity": "severe"}),
        ("merge", {"other": "C-000004"}),
    ):
        r = teams_hub.post(f"/api/cases/C-000001/{path}", "alice", body)
        assert r.status_code == 403, (path, r.status_code, r.text)
    # merging a case from outside the teams into one's own is refused too, and changes nothing
    assert teams_hub.post("/api/cases/C-000004/merge", "alice", {"other": "C-000001"}).status_code == 403
    with Session(teams_hub.engine) as s:
        one = s.get(CaseRow, 1)
        assert one is not None and one.merged_into_id is None and one.status == "new"
    ok = teams_hub.post("/api/cases/C-000004/notes", "alice", {"text": "checked the scans"})
    assert ok.status_code == 200 and ok.json()["notes"][0]["text"] == "checked the scans"
    assert teams_hub.post("/api/cases/C-000001/notes", "olga", {"text": "ops may"}).status_code == 200


def test_customer_pages_show_only_the_teams_cases(teams_hub: TeamHub) -> None:
    mine = teams_hub.get("/api/customers/1", "alice")
    assert mine.status_code == 200 and mine.json()["cases"] == [] and mine.json()["case_count"] == 0
    assert teams_hub.get("/api/customers/1", "chen").json()["case_count"] == 1


def test_team_scope_in_the_queue_service(teams_hub: TeamHub) -> None:
    with Session(teams_hub.engine) as s:
        assert list_cases(s, CaseFilter(status="all", teams=[TEAMS[0]])).total == 1
        assert list_cases(s, CaseFilter(status="all", teams=[])).total == 0
        assert list_cases(s, CaseFilter(status="all", teams=[TeamSettings(name="all")])).total == 4
        assert list_cases(s, CaseFilter(status="all", teams=None)).total == 4


def test_without_teams_configured_agents_see_everything(sqlite_engine: Engine, tmp_path: Path) -> None:
    config = HubConfig()
    run_import(sqlite_engine, build_corpus(tmp_path / "corpus"), config)
    with session_scope(sqlite_engine) as session:
        add_user(session, "alice", "agent", PASSWORD, teams=["logistics"])
        _, token = create_token(session, "alice")
    with TestClient(create_app(sqlite_engine, config)) as client:
        r = client.get("/api/cases?status=all", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["total"] == 4
        assert (
            client.get("/api/cases/C-000001", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )


def test_admin_api_sets_teams(teams_hub: TeamHub) -> None:
    made = teams_hub.post("/api/users", "ada", {"name": "mei", "role": "agent", "teams": ["social"]})
    assert made.status_code == 201, made.text
    assert made.json()["teams"] == ["social"]
    unknown = teams_hub.post("/api/users", "ada", {"name": "lin", "teams": ["payments"]})
    assert unknown.status_code == 422 and "payments" in unknown.text
    assert teams_hub.post("/api/users", "alice", {"name": "x1", "teams": ["social"]}).status_code == 403
    moved = teams_hub.client.put(
        "/api/users/mei/teams", json={"teams": ["logistics"]}, headers=teams_hub.team.auth("ada")
    )
    assert moved.status_code == 200 and moved.json()["teams"] == ["logistics"]
    denied = teams_hub.client.put(
        "/api/users/mei/teams", json={"teams": []}, headers=teams_hub.team.auth("olga")
    )
    assert denied.status_code == 403
    listed = {u["name"]: u for u in teams_hub.get("/api/users", "ada").json()}
    assert listed["mei"]["teams"] == ["logistics"] and listed["chen"]["teams"] == ["logistics", "quality"]
    log = teams_hub.get("/api/audit", "ada").json()
    assert "user.teams" in {a["action"] for a in log}


def test_config_teams_section(tmp_path: Path) -> None:
    file = tmp_path / "hub.yaml"
    file.write_text(
        yaml.safe_dump(
            {"teams": [{"name": "logistics", "categories": ["logistics"], "channels": ["courier"]}]}
        ),
        encoding="utf-8",
    )
    config = load_config(file)
    assert config.teams[0].name == "logistics" and config.teams[0].channels == ["courier"]
    file.write_text(yaml.safe_dump({"teams": [{"name": "a"}, {"name": "a"}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="team names must be unique"):
        load_config(file)
    file.write_text(yaml.safe_dump({"teams": [{"name": "a", "members": ["x"]}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(file)


def test_cli_adds_users_with_teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setenv("COLUMNS", "200")
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "teams": [
                    {"name": "logistics", "categories": ["logistics"]},
                    {"name": "payments", "categories": ["payment_refund"]},
                ]
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("HUB_CONFIG", str(config))
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "mei",
            "--role",
            "agent",
            "--team",
            "logistics",
            "--team",
            "payments",
            "--password-stdin",
        ],
        input="s3cret-pass\n",
    )
    assert added.exit_code == 0, added.output
    assert "added mei (agent, teams logistics, payments)" in added.output
    unknown = runner.invoke(cli, ["users", "add", "lin", "--team", "nope", "--no-password"])
    assert unknown.exit_code == 1 and "unknown team" in unknown.output
    listed = runner.invoke(cli, ["users", "list"])
    assert listed.exit_code == 0 and "logistics, payments" in listed.output
    moved = runner.invoke(cli, ["users", "teams", "mei", "--team", "payments"])
    assert moved.exit_code == 0, moved.output
    from hub.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    with Session(engine) as s:
        user = s.exec(select(UserRow).where(UserRow.name == "mei")).one()
        assert user.teams == ["payments"]
    engine.dispose()


def test_teams_and_trigram_word_search_on_postgresql(postgres_engine: Engine, tmp_path: Path) -> None:
    config = HubConfig(teams=TEAMS)
    run_import(postgres_engine, build_corpus(tmp_path / "corpus"), config)
    with Session(postgres_engine) as s:
        indexes = set(s.exec(text("SELECT indexname FROM pg_indexes WHERE tablename = 'message'")).all())
        assert {("ix_message_text_trgm",), ("ix_message_subject_trgm",)} <= indexes
        # the word search is an ILIKE the trigram index can serve
        s.exec(text("SET enable_seqscan = off"))
        plan = " ".join(
            r[0] for r in s.exec(text("EXPLAIN SELECT id FROM message WHERE text ILIKE '%漏水了%'")).all()
        )
        assert "ix_message_text_trgm" in plan, plan
    tokens: dict[str, str] = {}
    with session_scope(postgres_engine) as session:
        for name, (role, teams) in MEMBERS.items():
            add_user(session, name, role, PASSWORD, teams=teams)
            _, tokens[name] = create_token(session, name)
    with TestClient(create_app(postgres_engine, config)) as client:
        hub = TeamHub(postgres_engine, client, Team(tokens))
        assert hub.ids("bert") == ["C-000002", "C-000003"]
        assert hub.get("/api/cases/C-000001", "alice").status_code == 403
        assert hub.get("/api/cases?q=漏水", "chen").json()["total"] == 1
        assert hub.get("/api/cases?q=漏水", "alice").json()["total"] == 0
        assert hub.get("/api/cases?q=100%25_", "olga").json()["total"] == 0


def test_web_queue_and_case_pages_keep_to_the_teams(teams_hub: TeamHub) -> None:
    queue = teams_hub.get("/?status=all", "alice")
    assert queue.status_code == 200
    assert "C-000004" in queue.text and "C-000001" not in queue.text
    assert teams_hub.get("/cases/C-000004", "alice").status_code == 200
    assert teams_hub.get("/cases/C-000001", "alice").status_code == 403
    assert teams_hub.get("/cases/C-000001", "olga").status_code == 200
