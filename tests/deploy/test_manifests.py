"""deploy/ agrees with the code: compose, Kubernetes and systemd commands, images and env names."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from hub.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"complaint-hub:{VERSION}"


def env_names_read_by_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "hub").rglob("*.py"):
        names |= set(re.findall(r"""environ(?:\.get)?\(?\[?\s*["'](HUB_[A-Z_]+)["']""", path.read_text()))
    return names


def check_command(argv: list[str]) -> None:
    """``argv`` is a hub command the CLI accepts: known verb path and known options."""
    assert argv[0].endswith("hub"), argv
    command: Any = typer.main.get_command(app)  # typer ships its own click: duck-type the group
    words = argv[1:]
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        sub = command.get_command(command.context_class(command), words[0])
        assert sub is not None, f"unknown verb {words[0]!r} in {argv}"
        command, words = sub, words[1:]
    options = {opt for p in command.params for opt in p.opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{argv}: unknown option {word} (known: {sorted(options)})"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_compose_services_run_real_commands_on_one_image() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "beat"} <= set(services)
    for name in ("migrate", "api", "worker", "beat"):
        svc = services[name]
        assert svc["image"] == IMAGE
        check_command(svc["command"])
        for key in svc["environment"]:
            assert key in env_names_read_by_code(), key
    assert services["beat"]["deploy"]["replicas"] == 1


def test_kubernetes_manifests() -> None:
    docs = k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {
        ("Deployment", "hub-api"),
        ("Deployment", "hub-worker"),
        ("Deployment", "hub-beat"),
        ("Job", "hub-migrate"),
        ("Secret", "hub-secrets"),
        ("ConfigMap", "hub-config"),
    } <= kinds
    beat = next(d for d in docs if d["metadata"]["name"] == "hub-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    secret = next(d for d in docs if d["kind"] == "Secret")
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    hub_yaml = yaml.safe_load(config["data"]["hub.yaml"])
    referenced = set(re.findall(r"\$\{([A-Z_]+)\}", config["data"]["hub.yaml"]))
    assert {k for k in secret["stringData"] if k.startswith("HUB_")} - referenced <= env_names_read_by_code()
    assert referenced <= set(secret["stringData"]), "every ${VAR} in hub.yaml comes from the secret"
    assert hub_yaml["connectors"] and hub_yaml["sinks"]
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            assert container["image"] == IMAGE
            check_command(container["command"])


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=lambda p: p.name)
def test_systemd_units(unit: Path) -> None:
    lines = dict(
        line.split("=", 1)
        for line in unit.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for key in ("ExecStart", "ExecStartPre"):
        if key in lines:
            argv = shlex.split(lines[key].replace("${HUB_API_PORT}", "8000"))
            check_command(argv)
    assert lines["EnvironmentFile"] == "/etc/hub/hub.env"


def test_env_example_lists_what_the_code_reads() -> None:
    example = (DEPLOY / ".env.example").read_text()
    names = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert {"HUB_DATABASE_URL", "HUB_BROKER_URL", "HUB_CONFIG", "HUB_API_PORT"} <= names
    assert {n for n in names if n.startswith("HUB_")} <= env_names_read_by_code() | {"HUB_WEBHOOK_SECRET"}
