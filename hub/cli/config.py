"""``hub init`` (a commented example ``hub.yaml``) and ``hub config validate`` (every problem, one a line)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.app import app, console, err_console, fail
from hub.config import validate_config_file

config_app = typer.Typer(help="The configuration file (hub.yaml).", no_args_is_help=True)
app.add_typer(config_app, name="config")

#: what ``hub init`` writes: every section with its defaults, secrets as references
EXAMPLE = """\
# hub.yaml: the complaint hub's configuration.
# Check it with `hub config validate`, and the connections with `hub check`.
#
# Secrets are never written here: "${VAR}" is read from the environment variable VAR,
# "${file:/run/secrets/name}" from a file (a relative path is relative to this file).
# Every section below is optional; the values shown are the defaults.

# Connector plugins allowed to load (`hub connectors list`); null allows every installed one.
connector_allowlist: null

# Where complaints come from: one entry per account, mailbox or feed.
#   name      your name for the instance (unique; shown in `hub status`, used by `hub poll NAME`)
#   type      the connector plugin
#   interval  how often it is polled (30s, 5m, 1h)
#   config    the plugin's own settings
connectors:
  - name: support-inbox
    type: email
    interval: 60s
    config:
      host: imap.example.com
      port: 993                      # default 993 for tls, 143 otherwise
      security: tls                  # tls | starttls | none (none: loopback hosts only)
      username: support@example.com
      password: "${SUPPORT_IMAP_PASSWORD}"
      folders: [INBOX]
      batch_size: 100
      mark_seen: false
      # move_to: Processed           # move mail there once it is stored
      # ca_file: /etc/ssl/private-ca.pem
      timeout: 30.0

  # - name: shop-mastodon
  #   type: mastodon
  #   interval: 2m
  #   config: {base_url: "https://mastodon.social", access_token: "${MASTODON_TOKEN}", limit: 40}

  # - name: shop-x
  #   type: x
  #   interval: 5m
  #   config: {bearer_token: "${X_BEARER_TOKEN}", user_id: "1234567890", max_results: 100}

  # - name: voicemail
  #   type: twilio
  #   interval: 5m
  #   config: {account_sid: "AC00000000000000000000000000000000", auth_token: "${TWILIO_AUTH_TOKEN}"}

  # - name: parcels
  #   type: aftership
  #   interval: 15m
  #   config: {api_key: "${AFTERSHIP_API_KEY}", webhook_secret: "${AFTERSHIP_WEBHOOK_SECRET}"}

  # - name: parcels-cn
  #   type: kuaidi100
  #   interval: 30m
  #   config: {customer: "YOUR-CUSTOMER-ID", key: "${KUAIDI100_KEY}", salt: "${KUAIDI100_SALT}"}

# Where cases go: CRMs, help desks, ERPs, your own webhook.
#   mapping   a mapping file (mappings/*.yaml) from the case to the target's fields
#   delivery  retries, dead letters and the circuit breaker
sinks:
  - name: crm
    type: webhook
    # mapping: mappings/webhook.yaml
    config:
      url: "https://crm.example.com/hooks/complaints"
      secret: "${HUB_WEBHOOK_SECRET}"
      timeout: 10.0
    delivery:
      max_attempts: 8                # then the row goes to dead letter (`hub outbox retry`)
      backoff_seconds: 2.0           # first retry after about this long, doubling ...
      backoff_max_seconds: 600.0     # ... up to this
      breaker_threshold: 5           # failed calls in a row that pause the sink ...
      breaker_cooldown_seconds: 60.0 # ... for this long

  # - name: helpdesk
  #   type: zendesk
  #   mapping: mappings/zendesk.yaml
  #   config: {subdomain: acme, email: "ops@example.com", api_token: "${ZENDESK_API_TOKEN}"}

ingest:
  max_item_bytes: 26214400           # larger items go to quarantine
  batch_size: 200                    # items per database transaction

matching:
  use_thread: true                   # each step of the cascade can be switched off
  use_order: true
  use_tracking: true
  use_customer: true
  use_name: true
  customer_window_hours: 504.0       # the same customer's cases this recent are considered
  similarity_threshold: 35.0         # 0-100: text similarity to join without a shared number
  name_window_hours: 72.0            # the same name on another identity, this recent ...
  name_similarity_threshold: 55.0    # ... and this similar a text (names alone never merge)
  max_customer_candidates: 10
  reopen_window_days: 14.0           # a follow-up within this reopens a closed case

understand:
  default_region: CN                 # for phone numbers without a country code
  own_addresses: []                  # the shop's own mailboxes, handles and numbers
  language_regions:
    zh-Hant: [TW, HK, MO]
    en: [US, GB, CA, AU]
  order_patterns: null               # regular expressions replacing the built-in order number shapes
  tracking_patterns: null
  order_context: []                  # more words that announce an order number ...
  tracking_context: []               # ... a tracking number ...
  decoy_context: []                  # ... or a number that is neither
  taxonomy_path: null                # default: mappings/taxonomy.yaml

sla:
  hours: {severe: 4.0, general: 48.0}
  category_hours: {}                 # e.g. {logistics: {general: 24}}
  stalled_shipment_hours: 48         # a parcel without a scan this long opens a proactive case

runtime:
  deliver_interval: 2s               # how often the outbox is delivered
  sla_sweep_interval: 60s
  housekeeping_interval: 1h
  task_time_limit: 600               # seconds; a poll or delivery pass is cut off after it
  lock_seconds: 60.0                 # poll/delivery locks expire this long after a dead worker

alerts:                              # health problems in `hub status`, the UI and /metrics
  failing_polls: 3                   # a connector failing this many polls in a row
  max_lag: 1h                        # a connector without a successful poll for this long ("0": off)
  credentials_expiry_days: 7         # credentials_expire_at this close is a health problem (0: off)

# Agents' teams: when any is configured, an agent works only the cases of their own teams
# (a case belongs to a team by category or by a message's channel; empty lists mean any).
teams: []
#  - {name: logistics, categories: [logistics], channels: [courier]}
"""


def _default_file() -> Path:
    return Path(os.environ.get("HUB_CONFIG", "hub.yaml"))


@app.command("init")
def init(
    path: Annotated[
        Path | None, typer.Argument(help="where to write it (default: HUB_CONFIG or hub.yaml)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example hub.yaml: every section, its defaults, secrets as ${VAR}."""
    file = path or _default_file()
    if file.exists() and not force:
        raise fail(f"{file} already exists; use --force to overwrite it")
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(EXAMPLE, encoding="utf-8")
    console.print(f"wrote {file}", highlight=False)
    console.print(
        "next: edit it, export SUPPORT_IMAP_PASSWORD and HUB_WEBHOOK_SECRET, "
        f"then `hub config validate{'' if path is None else ' ' + str(file)}` and `hub check`",
        highlight=False,
    )


@config_app.command("validate")
def validate(
    path: Annotated[Path | None, typer.Argument(help="the file (default: HUB_CONFIG or hub.yaml)")] = None,
) -> None:
    """Check the whole file (plugins' own settings, mapping files, secret references); print every problem."""
    file = path or _default_file()
    if not file.exists():
        raise fail(f"configuration file {file} not found; write an example with `hub init`")
    config, problems = validate_config_file(file)
    if problems:
        for problem in problems:
            console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
        err_console.print(f"{file}: {len(problems)} problem(s)", highlight=False)
        raise typer.Exit(1)
    assert config is not None
    console.print(
        f"{file}: ok ({len(config.connectors)} connector(s), {len(config.sinks)} sink(s))", highlight=False
    )
