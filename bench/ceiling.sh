#!/usr/bin/env bash
# orderpay against PostgreSQL's own ceiling: pgbench runs the exact statements orderpay sends
# for each hot path, then wrk drives the release binary on the same data, in the same run.
# 10,000 seeded orders of 2 items with random-access references (bench/seed.sql).
#
#   bash bench/ceiling.sh                       # 15 s each, 32 connections, 2 threads
#   DURATION=30s CONNECTIONS=64 bash bench/ceiling.sh
#
# Needs wrk and pgbench (postgresql-contrib on Debian: apt-get install wrk postgresql-contrib).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@localhost:5432}
DURATION=${DURATION:-15s}
SECONDS_RUN=${DURATION%s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18082}
BASE="http://127.0.0.1:$PORT"
DB="$SERVER/orderpay_ceiling"

for tool in wrk pgbench psql; do
  command -v $tool >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
done
cargo build --release -q -p orderpay --bins
BIN=target/release/orderpay

psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS orderpay_ceiling WITH (FORCE)"
export DATABASE_URL=$DB HOST=127.0.0.1 PORT RUST_LOG=warn RECONCILE_INTERVAL_SECONDS=0
$BIN migrate >/dev/null 2>&1
psql "$DB" -q -f bench/seed.sql
API_KEY=$($BIN api-key create --name bench 2>/dev/null)
export API_KEY CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001

tps() { sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -1 | cut -d. -f1; }
rps() { sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' | cut -d. -f1; }
pct() { sed -nE "s/^ *$1% *([0-9.]+[a-z]+)/\1/p"; }

echo "== machine: $(nproc) cores; $(psql "$SERVER/postgres" -Atc 'show server_version')"
echo "== pgbench: the statements orderpay sends ($CONNECTIONS clients, $DURATION each)"
lookup_ceiling=$(pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$SECONDS_RUN" \
  -f bench/pgbench_lookup.sql "$DB" 2>/dev/null | tps)
create_ceiling=$(pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$SECONDS_RUN" \
  -f bench/pgbench_create.sql "$DB" 2>/dev/null | tps)

$BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

echo "== wrk: orderpay ($CONNECTIONS connections, $DURATION each)"
lookup=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/lookup_random.lua "$BASE")
lookup_rss=$(ps -o rss= -p $PID)
create=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/create_order.lua "$BASE/v1/orders")
create_rss=$(ps -o rss= -p $PID)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
printf '\n| path | pgbench tps | orderpay req/s | of ceiling | p50 | p99 | RSS |\n|---|---|---|---|---|---|---|\n'
printf '| GET by reference | %s | %s | %s | %s | %s | %s KiB |\n' "$lookup_ceiling" \
  "$(echo "$lookup" | rps)" "$(ratio "$(echo "$lookup" | rps)" "$lookup_ceiling")" \
  "$(echo "$lookup" | pct 50)" "$(echo "$lookup" | pct 99)" "$lookup_rss"
printf '| POST order (2 items) | %s | %s | %s | %s | %s | %s KiB |\n' "$create_ceiling" \
  "$(echo "$create" | rps)" "$(ratio "$(echo "$create" | rps)" "$create_ceiling")" \
  "$(echo "$create" | pct 50)" "$(echo "$create" | pct 99)" "$create_rss"
