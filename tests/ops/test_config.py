"""`hub init`, `hub config validate` and secret references: every problem, located, friendly, no secret shown."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.config import DeliverySettings, HubConfig, friendly_message, load_config, validate_config_file
from hub.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Value-never-printed"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    (tmp_path / "mappings").mkdir()
    shutil.copy(REPO / "mappings" / "zendesk.yaml", tmp_path / "mappings" / "zendesk.yaml")
    shutil.copy(REPO / "mappings" / "webhook.yaml", tmp_path / "mappings" / "webhook.yaml")
    return tmp_path


def validate(folder: Path, text: str, **env: str) -> tuple[int, list[str], str]:
    """Run `hub config validate` on ``text``: (exit code, problem lines, whole output)."""
    (folder / "hub.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "validate", "hub.yaml"], env=env)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.output


GOOD_IMAP = "{host: 127.0.0.1, port: 10143, security: none, username: support, password: pw}"

# (broken config, env, the exact problem line expected)
BROKEN = [
    (
        f"""
        connectors:
          - {{name: a, type: email, config: {GOOD_IMAP}}}
          - {{name: b, type: email, config: {GOOD_IMAP}}}
          - {{name: c, type: email, config: {{host: h, port: 99999, username: u, password: p}}}}
        """,
        {},
        "connectors[2].config.port: must be at most 65535",
    ),
    (
        """
        sinks:
          - {name: desk, type: zendesk, mapping: mappings/zendsk.yaml,
             config: {subdomain: acme, email: ops@example.com, api_token: tok-123456}}
        """,
        {},
        "sinks[0].mapping: file mappings/zendsk.yaml not found; did you mean mappings/zendesk.yaml?",
    ),
    (
        f"connectors:\n  - {{name: a, type: emial, config: {GOOD_IMAP}}}\n",
        {},
        "connectors[0].type: no connector 'emial'; did you mean 'email'?",
    ),
    (
        "sinks:\n  - {name: crm, type: webhok, config: {url: 'http://x', secret: s}}\n",
        {},
        "sinks[0].type: no sink 'webhok'; did you mean 'webhook'?",
    ),
    (
        f"connectors:\n  - {{name: a, type: email, config: {GOOD_IMAP}}}\n"
        f"  - {{name: a, type: email, config: {GOOD_IMAP}}}\n",
        {},
        "connectors[1].name: 'a' is already the name of connectors[0]; instance names must be unique: rename one",
    ),
    (
        f"connectors:\n  - {{name: a, type: email, intervall: 30s, config: {GOOD_IMAP}}}\n",
        {},
        "connectors[0].intervall: unknown setting; did you mean 'interval'?",
    ),
    (
        "connectors:\n  - {name: a, type: email, config: {host: h, username: u, passwrd: p}}\n",
        {},
        "connectors[0].config.passwrd: unknown setting; did you mean 'password'?",
    ),
    (
        "connectors:\n  - {name: a, type: email, config: {host: h, username: u, password: '${IMAP_PW}'}}\n",
        {},
        "connectors[0].config.password: environment variable IMAP_PW is not set; "
        "export IMAP_PW=..., or write ${file:/path/to/secret} instead",
    ),
    (
        "connectors:\n  - {name: a, type: email, config: {host: h, username: u, password: '${file:pw.txt}'}}\n",
        {},
        "connectors[0].config.password: secret file pw.txt not found; create it (one line, the secret) or fix the path",
    ),
    (
        "connectors:\n  - {name: m, type: mastodon, config: {base_url: 'https://m.example', access_token: t, limit: 81}}\n",
        {},
        "connectors[0].config.limit: must be at most 80",
    ),
    (
        "connectors:\n  - {name: a, type: email, config: {host: h, password: p}}\n",
        {},
        "connectors[0].config.username: is required",
    ),
    ("matching: {similarity_threshold: 101}\n", {}, "matching.similarity_threshold: must be at most 100"),
    ("ingest: {batch_size: lots}\n", {}, "ingest.batch_size: must be a whole number"),
    ("ingest: {max_item_bytes: 10}\n", {}, "ingest.max_item_bytes: must be at least 1024"),
    (
        "connectors:\n  - {name: a, type: email, interval: 5x, config: {host: h, username: u}}\n",
        {},
        "connectors[0].interval: '5x' is not a duration (like 30s, 5m, 1h)",
    ),
    (
        "connectors:\n  - {name: a, type: email, config: {host: h, username: u, security: ssl}}\n",
        {},
        "connectors[0].config.security: must be one of 'tls', 'starttls', 'none'",
    ),
    (
        "colours: blue\n",
        {},
        "colours: unknown setting; known settings: connector_allowlist, connectors, sinks, "
        "ingest, matching, understand, sla, runtime, alerts",
    ),
    (
        "sinks:\n  - {name: crm, type: webhook, config: {url: 'http://x', secret: s}, delivery: {max_attempts: 0}}\n",
        {},
        "sinks[0].delivery.max_attempts: must be at least 1",
    ),
    (
        "sinks:\n  - {name: z, type: zendesk, config: {subdomain: acme}}\n",
        {},
        "sinks[0].config: give email and api_token (API token auth), or oauth_token",
    ),
    (
        "understand: {order_patterns: ['(unclosed']}\n",
        {},
        "understand.order_patterns[0]: not a valid regular expression",
    ),
    ("alerts: {failing_polls: 0}\n", {}, "alerts.failing_polls: must be at least 1"),
]


@pytest.mark.parametrize(("text", "env", "expected"), BROKEN, ids=[b[2].split(":")[0] for b in BROKEN])
def test_each_broken_config_is_reported_with_location_and_friendly_text(
    folder: Path, text: str, env: dict[str, str], expected: str
) -> None:
    code, lines, output = validate(folder, text, **env)
    assert code == 1, output
    assert any(line.startswith(expected) for line in lines), output
    assert "Input should" not in output


def test_every_problem_is_printed_one_per_line(folder: Path) -> None:
    text = """
    connectors:
      - {name: a, type: email, config: {host: h, port: 0, username: u}}
      - {name: a, type: emial}
      - {name: m, type: mastodon, interval: 0s, config: {base_url: nope, access_token: t}}
    sinks:
      - {name: desk, type: zendesk, mapping: mappings/zendsk.yaml, config: {subdomain: acme, timeout: -1}}
    matching: {use_thred: true}
    """
    code, lines, output = validate(folder, text)
    assert code == 1
    assert lines == [
        "connectors[0].config.port: must be at least 1",
        "connectors[1].name: 'a' is already the name of connectors[0]; instance names must be unique: rename one",
        "connectors[1].type: no connector 'emial'; did you mean 'email'?",
        "connectors[2].interval: must be positive",
        "connectors[2].config.base_url: must be a URL (http:// or https://)",
        "sinks[0].config: give email and api_token (API token auth), or oauth_token",
        "sinks[0].mapping: file mappings/zendsk.yaml not found; did you mean mappings/zendesk.yaml?",
        "matching.use_thred: unknown setting; did you mean 'use_thread'?",
    ], output
    assert "hub.yaml: 8 problem(s)" in output


def test_secrets_are_never_printed_even_when_the_secret_itself_is_invalid(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token.txt").write_text(SECRET + "-file\n")
    text = """
    connectors:
      - name: a
        type: email
        interval: "${POLL_SECRET}"          # the secret is itself an invalid duration
        config:
          host: h
          username: u
          port: "${PORT_SECRET}"            # and not a port
          security: "${SECURITY_SECRET}"    # and not a security mode
          password: "${IMAP_SECRET}"
      - name: m
        type: mastodon
        config: {base_url: "${URL_SECRET}", access_token: "${file:token.txt}", limit: "${file:token.txt}"}
    sinks:
      - {name: crm, type: webhook, config: {url: "http://x", secret: 12345678901, tiemout: 3}}
      - {name: z, type: zendesk, config: {subdomain: acme, email: "ops@example.com", api_token: literal-Secret-99, oops: 1}}
    """
    env = {
        "POLL_SECRET": SECRET + "-poll",
        "PORT_SECRET": SECRET + "-port",
        "SECURITY_SECRET": SECRET + "-sec",
        "IMAP_SECRET": SECRET + "-imap",
        "URL_SECRET": SECRET + "-url",
    }
    code, lines, output = validate(folder, text, **env)
    assert code == 1
    assert SECRET not in output and "literal-Secret-99" not in output, output
    assert "connectors[0].interval: '***' is not a duration (like 30s, 5m, 1h)" in lines
    assert "connectors[0].config.port: must be a whole number" in lines
    assert "connectors[0].config.security: must be one of 'tls', 'starttls', 'none'" in lines
    assert "connectors[1].config.limit: must be a whole number" in lines
    assert any(line.startswith("sinks[0].config.secret: must be text") for line in lines), output
    # load_config (what the hub does at start-up) never shows them either
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_config(folder / "hub.yaml")
    assert SECRET not in str(err.value)
    assert "'***' is not a duration" in str(err.value)


def test_file_and_env_references_are_substituted(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (secret_dir / "imap").write_text("from-a-file\n")
    monkeypatch.setenv("HOOK_SECRET", "from-the-env")
    (folder / "hub.yaml").write_text(
        f"""
connectors:
  - {{name: a, type: email, config: {{host: h, username: u, password: "${{file:{secret_dir}/imap}}"}}}}
  - {{name: b, type: email, config: {{host: h, username: u, password: "${{file:secrets/imap}}"}}}}
sinks:
  - {{name: crm, type: webhook, config: {{url: "http://x/${{HOOK_SECRET}}", secret: "${{HOOK_SECRET}}"}}}}
"""
    )
    config = load_config(folder / "hub.yaml")
    assert config.connectors[0].config["password"] == "from-a-file"
    assert config.connectors[1].config["password"] == "from-a-file"  # relative to the config file
    assert config.sinks[0].config == {"url": "http://x/from-the-env", "secret": "from-the-env"}
    config2, problems = validate_config_file(folder / "hub.yaml")
    assert problems == [] and config2 is not None


def test_hub_init_writes_a_valid_commented_example_with_the_defaults(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    text = (folder / "hub.yaml").read_text()
    assert text.count("#") > 40  # commented
    assert "${SUPPORT_IMAP_PASSWORD}" in text and "${HUB_WEBHOOK_SECRET}" in text
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(app, ["init", "--force"]).exit_code == 0

    missing = runner.invoke(app, ["config", "validate"])
    assert missing.exit_code == 1
    assert "environment variable SUPPORT_IMAP_PASSWORD is not set" in missing.stdout

    env = {"SUPPORT_IMAP_PASSWORD": "pw", "HUB_WEBHOOK_SECRET": "hook"}
    ok = runner.invoke(app, ["config", "validate"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "ok (1 connector(s), 1 sink(s))" in ok.output
    # every section is there, with the defaults
    data = yaml.safe_load(text)
    defaults = HubConfig().model_dump(mode="json")
    assert set(data) == set(defaults)
    for section in ("ingest", "matching", "understand", "sla", "runtime", "alerts", "connector_allowlist"):
        assert data[section] == defaults[section], section
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = load_config(folder / "hub.yaml")
    assert loaded.sinks[0].delivery == DeliverySettings()
    assert loaded.connectors[0].interval_seconds == 60


def test_yaml_syntax_error_names_the_line(folder: Path) -> None:
    code, lines, output = validate(folder, "connectors:\n  - name: a\n   type: email\n")
    assert code == 1
    assert lines[0].startswith("hub.yaml: not valid YAML at line 3"), output


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            {
                "type": "less_than_equal",
                "ctx": {"le": 65535},
                "msg": "Input should be less than or equal to 65535",
            },
            "must be at most 65535",
        ),
        (
            {"type": "greater_than", "ctx": {"gt": 0.0}, "msg": "Input should be greater than 0"},
            "must be more than 0",
        ),
        ({"type": "string_too_short", "ctx": {"min_length": 1}, "msg": "..."}, "must not be empty"),
        ({"type": "missing", "msg": "Field required"}, "is required"),
        ({"type": "value_error", "msg": "Value error, give subdomain"}, "give subdomain"),
        ({"type": "something_new", "msg": "Input should be shiny"}, "input should be shiny"),
    ],
)
def test_friendly_message(error: dict[str, object], text: str) -> None:
    assert friendly_message(error) == text
