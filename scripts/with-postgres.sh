#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 server:
#   bash scripts/with-postgres.sh <command> [args...]
# Creates a cluster in a temp dir (owned by the `postgres` system user, since the server
# refuses to run as root), starts it on 127.0.0.1 on a free port with trust auth for
# loopback/local-socket only, exports DATABASE_URL, runs the command, then always stops the
# server and deletes the dir. Exits with the command's exit code.
# Env overrides: PG_BIN (binaries dir, default /usr/lib/postgresql/15/bin),
#                PG_PORT (first port to try, default 54329), PG_USER (default postgres).
set -euo pipefail

log() { printf '[with-postgres] %s\n' "$*" >&2; }
die() { printf '[with-postgres] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "usage: $0 <command> [args...]"

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER="${PG_USER:-postgres}"
for bin in initdb pg_ctl pg_isready postgres; do
  [ -x "$PG_BIN/$bin" ] || die "PostgreSQL binary '$bin' not found or not executable in $PG_BIN (install postgresql-15, or set PG_BIN)"
done
id -u "$PG_USER" >/dev/null 2>&1 || die "system user '$PG_USER' does not exist (needed to run the server as non-root)"

# Run a command as the server's user (directly if we already are that user).
as_pg() {
  if [ "$(id -un)" = "$PG_USER" ]; then "$@"
  elif [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then runuser -u "$PG_USER" -- "$@"
  elif [ "$(id -u)" -eq 0 ]; then su "$PG_USER" -s /bin/sh -c "$(printf '%q ' "$@")"
  else die "must run as root or as '$PG_USER' to start the server"
  fi
}

# Is something listening on 127.0.0.1:$1?
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TMP_DIR=""
PG_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  if [ -n "$PG_PID" ]; then
    log "stopping server (pid $PG_PID)"
    if [ -f "$TMP_DIR/data/postmaster.pid" ]; then
      as_pg "$PG_BIN/pg_ctl" -D "$TMP_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || as_pg "$PG_BIN/pg_ctl" -D "$TMP_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
        || { log "WARNING: pg_ctl stop failed; killing pid $PG_PID"; kill -KILL "$PG_PID"; }
    else
      kill -TERM "$PG_PID" 2>/dev/null
    fi
    wait "$PG_PID" 2>/dev/null
  fi
  if [ -n "$TMP_DIR" ] && [ -d "$TMP_DIR" ]; then
    log "removing $TMP_DIR"
    rm -rf "$TMP_DIR"
  fi
  log "exit code $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/with-postgres.XXXXXX")"
chown "$PG_USER": "$TMP_DIR" 2>/dev/null || [ "$(id -un)" = "$PG_USER" ] || die "cannot chown $TMP_DIR to $PG_USER"
chmod 700 "$TMP_DIR"
log "created temp dir $TMP_DIR (owner $PG_USER)"

log "initdb ($("$PG_BIN/postgres" --version))"
as_pg "$PG_BIN/initdb" -D "$TMP_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$TMP_DIR/initdb.log" 2>&1 \
  || { cat "$TMP_DIR/initdb.log" >&2; die "initdb failed"; }
# Trust only the private unix socket and IPv4 loopback; reject everything else.
cat >"$TMP_DIR/data/pg_hba.conf" <<HBA
local all all              trust
host  all all 127.0.0.1/32 trust
HBA
chown "$PG_USER": "$TMP_DIR/data/pg_hba.conf" 2>/dev/null || true

PORT="${PG_PORT:-54329}"
for _ in $(seq 1 100); do port_in_use "$PORT" || break; PORT=$((PORT + 1)); done
port_in_use "$PORT" && die "no free port found from ${PG_PORT:-54329}"

log "starting server on 127.0.0.1:$PORT (socket dir $TMP_DIR, log $TMP_DIR/server.log)"
# The postmaster runs as our child (not daemonized by pg_ctl) so we can wait for it on exit.
as_pg "$PG_BIN/postgres" -D "$TMP_DIR/data" -c listen_addresses=127.0.0.1 -p "$PORT" \
  -k "$TMP_DIR" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  >"$TMP_DIR/server.log" 2>&1 &
PG_PID=$!

log "waiting for server to accept connections (pg_isready)"
for _ in $(seq 1 60); do
  kill -0 "$PG_PID" 2>/dev/null || { cat "$TMP_DIR/server.log" >&2; PG_PID=""; die "server exited during startup"; }
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres && break
  sleep 0.5
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
  || { cat "$TMP_DIR/server.log" >&2; die "server did not accept connections within 30s"; }

export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "server ready; DATABASE_URL=$DATABASE_URL"
log "running: $*"
set +e
"$@"
rc=$?
set -e
log "command exited with code $rc"
exit "$rc"
