"""Fixtures for the queue's API tests: a store with the hand-written corpus, a team, a TestClient."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hub.api import create_app
from hub.config import HubConfig
from tests.api.helpers import PASSWORD, Team, make_team
from tests.core.test_pipeline import build_corpus, run_import


@dataclass
class Hub:
    engine: Engine
    config: HubConfig
    client: TestClient
    team: Team

    def login(self, name: str, password: str = PASSWORD) -> tuple[TestClient, str]:
        """A browser-like client signed in through the login form; returns it and its CSRF token."""
        client = TestClient(self.client.app)
        form = client.get("/login")
        token = re.search(r'id="login-csrf" value="([^"]+)"', form.text)
        assert token, form.text
        done = client.post(
            "/login",
            data={"name": name, "password": password, "csrf_token": token.group(1), "next": "/"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        page = client.get("/")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        return client, csrf.group(1)

    def case_ids(self) -> list[str]:
        r = self.client.get("/api/cases?status=all", headers=self.team.auth("alice"))
        return [c["case_id"] for c in r.json()["items"]]


@pytest.fixture
def hub(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Hub]:
    config = HubConfig()
    run_import(sqlite_engine, build_corpus(tmp_path / "corpus"), config)
    team = make_team(sqlite_engine)
    with TestClient(create_app(sqlite_engine, config)) as client:
        yield Hub(sqlite_engine, config, client, team)
