#!/usr/bin/env bash
# compare-postgres.sh: the same two-phase double-entry workload on PostgreSQL and on our
# ledger + journal, durable commits on both sides, on this machine in one run.
#
# What it does: installs PostgreSQL from Debian's packages if it is missing (apt-get, as
# root), initialises a throwaway cluster in a temporary directory on a free port with durable
# commits (fsync=on, synchronous_commit=on, full_page_writes=on), loads 1,000 participant
# accounts, and runs pgbench with a custom script: each pgbench transaction is one
# reserve+post pair, i.e. two committed database transactions (reserve: check funds and add
# to the reserved column, insert the transfer; post: mark the transfer posted and move the
# money between the two balances). Then it runs our side, the `durable_ledger` example of the
# store crate (reserve+post pairs through the ledger, every batch journaled by the
# group-commit journal with fdatasync, verified by replaying the journal), on the same disk.
# Prints exactly one line on stdout:
#   ledger_vs_postgres: ours_tps=X postgres_tps=X ratio=X
# (everything else goes to stderr). The cluster is stopped and removed at exit, whatever
# happens (trap).
#
# Knobs (environment): PG_CLIENTS (default 64 connections), PG_JOBS (pgbench threads,
# default 2), PG_SECONDS (default 20), OURS_PAIRS (default 2000000), OURS_BATCH (pairs per
# journaled batch, default 2048), CARGO_TARGET_DIR (default ./target).
# Must not: touch any other PostgreSQL cluster, listen beyond 127.0.0.1, or leave files behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CLIENTS="${PG_CLIENTS:-64}"
PG_JOBS="${PG_JOBS:-2}"
PG_SECONDS="${PG_SECONDS:-20}"
OURS_PAIRS="${OURS_PAIRS:-2000000}"
OURS_BATCH="${OURS_BATCH:-2048}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ACCOUNTS=1000
FUNDS=1125899906842624 # 2^50 minor units per participant

log() { echo "compare-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

log "building (first, so no compile overlaps a run) the durable_ledger example"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -q -p store \
    --example durable_ledger >&2)

# --- PostgreSQL binaries -----------------------------------------------------------------
pg_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/postgres" && -x "$d/pgbench" ]]; then
        echo "$d"
    fi
}
BIN="$(pg_bindir)"
if [[ -z "$BIN" ]]; then
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed and this is not root: \
apt-get install postgresql postgresql-contrib"
    log "installing PostgreSQL from Debian's packages"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
    BIN="$(pg_bindir)"
    [[ -n "$BIN" ]] || die "PostgreSQL still not found under /usr/lib/postgresql/*/bin"
fi
log "PostgreSQL: $("$BIN/postgres" --version)"

# PostgreSQL refuses to run as root: run the server as the postgres system user then.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/compare-postgres.XXXXXX")"
if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no postgres system user (the Debian package makes one)"
    chown postgres: "$WORK"
    chmod 700 "$WORK"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
PGDATA="$WORK/data"
cleanup() {
    if [[ -f "$PGDATA/postmaster.pid" ]]; then
        as_pg "$BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
    local p
    for p in $(seq 55432 55532); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
PORT="$(free_port)" || die "no free port in 55432..55532"

log "cluster in $PGDATA on port $PORT"
as_pg "$BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-instructions \
    >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
cat >>"$PGDATA/postgresql.conf" <<EOF
# compare-postgres.sh: durable commits on, the rest tuned so the run is not checkpoint-bound.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync
shared_buffers = 512MB
max_connections = 200
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_buffers = 16MB
EOF
as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w -t 60 start >/dev/null \
    || { cat "$WORK/server.log" >&2; die "server did not start"; }

psql_q() { as_pg "$BIN/psql" -h "$WORK" -p "$PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_q -d postgres -c "CREATE DATABASE bench" >&2
psql_q -d bench >&2 <<EOF
CREATE TABLE accounts (
    id integer PRIMARY KEY,
    balance bigint NOT NULL,
    reserved bigint NOT NULL CHECK (reserved >= 0),
    CHECK (balance - reserved >= 0)
) WITH (fillfactor = 50);
CREATE TABLE transfers (
    id bigserial PRIMARY KEY,
    debit integer NOT NULL REFERENCES accounts (id),
    credit integer NOT NULL REFERENCES accounts (id),
    amount bigint NOT NULL CHECK (amount > 0),
    state char(1) NOT NULL
);
INSERT INTO accounts SELECT 100 + g, $FUNDS, 0 FROM generate_series(0, $ACCOUNTS - 1) g;
VACUUM ANALYZE accounts;
EOF

# One pgbench transaction = one reserve+post pair = two committed transactions.
cat >"$WORK/pair.sql" <<EOF
\\set d random(100, $((100 + ACCOUNTS - 1)))
\\set c 100 + (:d - 100 + random(1, $((ACCOUNTS - 1)))) % $ACCOUNTS
\\set amt random(1, 5000)
BEGIN;
WITH r AS (
    UPDATE accounts SET reserved = reserved + :amt
    WHERE id = :d AND balance - reserved >= :amt RETURNING id
)
INSERT INTO transfers (debit, credit, amount, state)
SELECT :d, :c, :amt, 'R' FROM r RETURNING id AS tid \\gset
COMMIT;
BEGIN;
UPDATE transfers SET state = 'P' WHERE id = :tid AND state = 'R';
UPDATE accounts
SET balance = balance + CASE WHEN id = :c THEN :amt::bigint ELSE -(:amt::bigint) END,
    reserved = reserved - CASE WHEN id = :d THEN :amt::bigint ELSE 0 END
WHERE id IN (:d, :c);
COMMIT;
EOF
chmod 644 "$WORK/pair.sql"

log "pgbench: $PG_CLIENTS clients, $PG_JOBS threads, ${PG_SECONDS}s"
as_pg "$BIN/pgbench" -h "$WORK" -p "$PORT" -U postgres -n -M prepared -f "$WORK/pair.sql" \
    -c "$PG_CLIENTS" -j "$PG_JOBS" -T "$PG_SECONDS" --max-tries=20 bench \
    >"$WORK/pgbench.out" 2>"$WORK/pgbench.err" \
    || { tail -n 20 "$WORK/pgbench.out" "$WORK/pgbench.err" >&2; die "pgbench failed"; }
grep -E "^(number of (transactions|failed)|latency average|tps)" "$WORK/pgbench.out" >&2 || true
PG_TPS="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' \
    "$WORK/pgbench.out")"
[[ -n "$PG_TPS" ]] || { cat "$WORK/pgbench.out" >&2; die "no tps in pgbench output"; }

# The database must balance: money only moved, nothing left reserved, every transfer posted.
CHECK="$(psql_q -d bench -At -c "SELECT (SELECT sum(balance) FROM accounts) = $ACCOUNTS::numeric
    * $FUNDS AND (SELECT sum(reserved) FROM accounts) = 0
    AND NOT EXISTS (SELECT 1 FROM transfers WHERE state <> 'P'),
    (SELECT count(*) FROM transfers)")"
log "postgres check (conserved, posted transfers): $CHECK"
[[ "$CHECK" == t\|* ]] || die "PostgreSQL run does not balance: $CHECK"
as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null

# --- ours ----------------------------------------------------------------------------------
OURS_DIR="$WORK/ours"
OURS_OUT="$("$TARGET_DIR/release/examples/durable_ledger" "$OURS_PAIRS" "$OURS_BATCH" \
    "$OURS_DIR")"
log "$OURS_OUT"
OURS_TPS="$(sed -n 's/.* tps=\([0-9]*\) .*/\1/p' <<<"$OURS_OUT")"
[[ -n "$OURS_TPS" ]] || die "no tps in: $OURS_OUT"

RATIO="$(awk -v o="$OURS_TPS" -v p="$PG_TPS" 'BEGIN { printf "%.1f", o / p }')"
PG_INT="$(awk -v p="$PG_TPS" 'BEGIN { printf "%.0f", p }')"
echo "ledger_vs_postgres: ours_tps=$OURS_TPS postgres_tps=$PG_INT ratio=$RATIO"
