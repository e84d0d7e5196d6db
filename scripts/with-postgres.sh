#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# Starts a private, throwaway PostgreSQL cluster (Debian's binaries under
# /usr/lib/postgresql/*/bin) in a temporary directory, listening on
# 127.0.0.1 on a free port (its unix socket lives in the temp dir too, so it
# never clashes with a system cluster), creates a database, exports
#
#   MARTLET_TEST_POSTGRES_URL=postgres://martlet:PASSWORD@127.0.0.1:PORT/martlet_test
#
# (the user is a superuser, so tests may also create databases of their own),
# runs CMD, then stops the cluster and removes it — also when CMD fails or the
# script is interrupted.  Exits with CMD's exit code.
#
# Works as root: initdb and postgres refuse to run as root, so they run as the
# `postgres` system user (override with MARTLET_PG_OS_USER) and the temp dir
# is chowned to it.  Host connections use scram-sha-256 password auth
# (MARTLET_PG_AUTH=md5 to change), which postgres-nio supports.
set -euo pipefail

if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

log() { printf '[with-postgres] %s\n' "$*" >&2; }
die() { printf '[with-postgres] ERROR: %s\n' "$*" >&2; exit 1; }

PG_BIN="${MARTLET_PG_BIN:-}"
if [[ -z "$PG_BIN" ]]; then
    # Newest installed major version.
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
fi
[[ -n "$PG_BIN" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] \
    || die "PostgreSQL server binaries not found (run scripts/prereqs.sh)"
PSQL="$PG_BIN/psql"
[[ -x "$PSQL" ]] || PSQL="$(command -v psql)" || die "psql not found"

DB_USER=martlet
DB_NAME="${MARTLET_PG_DATABASE:-martlet_test}"
AUTH="${MARTLET_PG_AUTH:-scram-sha-256}"
DB_PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}

# As root, run the server binaries as an unprivileged user.
AS=()
if [[ "$(id -u)" == 0 ]]; then
    OS_USER="${MARTLET_PG_OS_USER:-postgres}"
    id "$OS_USER" >/dev/null 2>&1 || die "system user '$OS_USER' does not exist (install postgresql or set MARTLET_PG_OS_USER)"
    if command -v runuser >/dev/null 2>&1; then
        AS=(runuser -u "$OS_USER" --)
    else
        AS=(setpriv --reuid="$OS_USER" --regid="$(id -g "$OS_USER")" --init-groups --)
    fi
fi

# A world-traversable parent, so the postgres user can reach the directory.
TMP_PARENT="${MARTLET_PG_TMPDIR:-/tmp}"
PG_TMP="$(mktemp -d "$TMP_PARENT/martlet-pg.XXXXXX")"
PGDATA_DIR="$PG_TMP/data"
SOCK_DIR="$PG_TMP/sock"
PG_LOG="$PG_TMP/postgres.log"
mkdir -p "$SOCK_DIR"
printf '%s\n' "$DB_PASSWORD" >"$PG_TMP/pwfile"
if ((${#AS[@]})); then
    chown -R "$OS_USER": "$PG_TMP"
fi
chmod 700 "$PG_TMP"

started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ((started)); then
        "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1 \
            || true
    fi
    rm -rf "$PG_TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

out="$("${AS[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --pwfile="$PG_TMP/pwfile" \
        --auth-local=trust --auth-host="$AUTH" -E UTF8 --locale=C.UTF-8 --no-sync 2>&1)" \
    || { printf '%s\n' "$out" >&2; die "initdb failed"; }
rm -f "$PG_TMP/pwfile"

# Throwaway cluster: trade durability for speed.
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- added by scripts/with-postgres.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK_DIR'
password_encryption = '$AUTH'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
EOF

for attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    if "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -o "-p $PORT" -w -t 60 start >/dev/null 2>&1; then
        started=1
        break
    fi
    # Port taken between the probe and the bind (rare): try another.
    "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true
done
if ((!started)); then
    cat "$PG_LOG" >&2 2>/dev/null || true
    die "PostgreSQL did not start"
fi

export PGPASSWORD="$DB_PASSWORD"
if ! out="$("$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres \
        -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$DB_USER\"" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "could not create database $DB_NAME"
fi
unset PGPASSWORD

export MARTLET_TEST_POSTGRES_URL="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, database $DB_NAME ($AUTH auth)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
