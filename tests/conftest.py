"""Shared fixtures: fresh stores (SQLite file, real PostgreSQL) and the dev corpus."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from hub.config import HubConfig
from hub.db import make_engine

DEV_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dev"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the real PostgreSQL server started by tests/run.sh; dropped after."""
    url = os.environ.get("HUB_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "HUB_TEST_POSTGRES_URL is not set: run the tests with `bash tests/run.sh`, "
            "which starts PostgreSQL"
        )
    name = f"hub_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{url.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    """The real Redis server started by tests/run.sh (a database number per test run)."""
    url = os.environ.get("HUB_TEST_REDIS_URL")
    if not url:
        pytest.fail(
            "HUB_TEST_REDIS_URL is not set: run the tests with `bash tests/run.sh`, which starts Redis"
        )
    return f"{url.rstrip('/')}/{uuid.uuid4().int % 15 + 1}"


@pytest.fixture
def dev_corpus() -> Path:
    if not (DEV_CORPUS / "labels.jsonl").exists():
        pytest.skip(f"dev corpus not found at {DEV_CORPUS} (it lives in ../shared beside the checkout)")
    return DEV_CORPUS


@pytest.fixture
def config() -> HubConfig:
    return HubConfig()
