#!/usr/bin/env bash
# Install what the tests need, start the servers they use on loopback, run them, stop the servers.
#   bash tests/run.sh [pytest args...]
# Servers: a private PostgreSQL cluster on 127.0.0.1:${HUB_TEST_PG_PORT:-15432} (Debian package
# postgresql), a private Redis on 127.0.0.1:${HUB_TEST_REDIS_PORT:-16379}; the IMAP tests start private Dovecot instances themselves (dovecot-imapd). Missing
# Debian packages are installed with apt. Nothing listens outside loopback; all state lives in
# temporary folders removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT=${HUB_TEST_PG_PORT:-15432}
REDIS_PORT=${HUB_TEST_REDIS_PORT:-16379}
SVC=$(mktemp -d /tmp/hub-test-svc.XXXXXX)
chmod 755 "$SVC"

log() { printf '== %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
need=()
{ [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ]; } || need+=(postgresql)
command -v dovecot >/dev/null || need+=(dovecot-imapd)
command -v doveadm >/dev/null || need+=(dovecot-core)
command -v openssl >/dev/null || need+=(openssl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PGBIN=$(pg_bin)

# --- python packages -------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "installing the hub with its test dependencies"
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

# --- servers ---------------------------------------------------------------------------------
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGDATA_DIR="$SVC/pg"
stop_servers() {
  if [ -f "$SVC/redis/redis.pid" ]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [ -f "$PGDATA_DIR/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$SVC"
}
trap stop_servers EXIT

log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
mkdir -p "$PGDATA_DIR"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_DIR"
chmod 700 "$PGDATA_DIR"
as_pg "$PGBIN/initdb" -D "$PGDATA_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
  >"$SVC/initdb.log" 2>&1 || { cat "$SVC/initdb.log" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGDATA_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || { cat "$PGDATA_DIR/pg.log" >&2; exit 1; }
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE hub_test" >/dev/null
export HUB_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/hub_test"

log "starting Redis on 127.0.0.1:$REDIS_PORT"
mkdir -p "$SVC/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$SVC/redis" \
  --daemonize yes --pidfile "$SVC/redis/redis.pid" --logfile "$SVC/redis/redis.log"
for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG || { cat "$SVC/redis/redis.log" >&2; exit 1; }
export HUB_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# --- checks ----------------------------------------------------------------------------------
log "ruff"
.venv/bin/ruff check hub connectors tests benchmarks
log "mypy"
.venv/bin/mypy
log "pytest"
.venv/bin/pytest "$@"
