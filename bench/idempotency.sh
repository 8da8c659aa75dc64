#!/usr/bin/env bash
# What an Idempotency-Key costs POST /v1/orders: the same build, the same database and load,
# plain then with a fresh key per request, in one run. Round trips are counted by the test
# `round_trips::hot_requests_cost_one_round_trip_each` (one statement more: the claim); this
# measures throughput and latency. Run on demand, never in CI.
#
#   bash bench/idempotency.sh                       # 15 s each, 32 connections
#   DURATION=30s CONNECTIONS=64 bash bench/idempotency.sh
#
# Needs wrk and psql. Database orderpay_bench_idempotency is recreated.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POOL=${POOL:-10}
PORT=${PORT:-18083}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
need wrk psql curl

cargo build --release -q -p orderpay --bins
db=orderpay_bench_idempotency
fresh_database now "$db"
psql "$SERVER/$db" -q -f bench/seed.sql
API_KEY=$(api_key now "$db")
export API_KEY
echo "== machine: $(nproc) cores; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version')"
DATABASE_POOL_SIZE=$POOL serve now "$db"
declare -A OUT
for run in plain keyed; do
  script=bench/create.lua
  [ "$run" = keyed ] && script=bench/create_idempotent.lua
  OUT[$run]=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" \
    "http://127.0.0.1:$PORT")
  # Every answer must have been a 201: a refused request is not a measurement.
  if grep -q "Non-2xx" <<<"${OUT[$run]}"; then
    echo "$run: some answers were not 2xx:" >&2
    echo "${OUT[$run]}" >&2
    stop
    exit 1
  fi
done
rss=$(rss_mib)
stop
errors=$(psql "$SERVER/$db" -Atc "select count(*) from idempotency_keys where response_status is null")
keys=$(psql "$SERVER/$db" -Atc "select count(*) from idempotency_keys")
printf '\n%-28s %10s %10s %10s\n' "POST /v1/orders" "req/s" "p50" "p99"
for run in plain keyed; do
  printf '%-28s %10s %10s %10s\n' "$run" "$(rps <<<"${OUT[$run]}")" \
    "$(pct 50 <<<"${OUT[$run]}")" "$(pct 99 <<<"${OUT[$run]}")"
done
echo "keyed / plain: $(percent "$(rps <<<"${OUT[keyed]}")" "$(rps <<<"${OUT[plain]}")")" \
  "(RSS $rss MiB; $keys keys stored, $errors of them unanswered)"
