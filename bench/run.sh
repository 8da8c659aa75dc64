#!/usr/bin/env bash
# A rerunnable load test of orderpay's main paths against the release binary and a local
# PostgreSQL: reading an order by reference, and creating orders. Run on demand, never in CI.
#
#   bash bench/run.sh                 # 10 s per scenario, 32 connections
#   DURATION=30s CONNECTIONS=64 bash bench/run.sh
#
# Needs wrk (apt-get install wrk) and psql. The database orderpay_bench is recreated.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@localhost:5432}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p orderpay
BIN=target/release/orderpay

psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS orderpay_bench WITH (FORCE)"
export DATABASE_URL="$SERVER/orderpay_bench" HOST=127.0.0.1 PORT RUST_LOG=warn
API_KEY=$($BIN api-key create --name bench 2>/dev/null)
export API_KEY

$BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

auth=(-H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json")
CUSTOMER_ID=$(curl -sf "${auth[@]}" -d '{"phone": "+14155550100", "name": "Bench"}' \
  "$BASE/v1/customers" | sed -E 's/.*"id":"([^"]+)".*/\1/')
export CUSTOMER_ID
REFERENCE=$(curl -sf "${auth[@]}" -d "{\"customer_id\": \"$CUSTOMER_ID\", \"currency\": \"usd\",
  \"items\": [{\"name\": \"Tea\", \"quantity\": 2, \"unit_amount\": 450}]}" \
  "$BASE/v1/orders" | sed -E 's/.*"reference":"([^"]+)".*/\1/')

echo "== machine: $(nproc) cores; $(psql "$SERVER/postgres" -Atc 'show server_version')"
echo "== idle RSS: $(ps -o rss= -p $PID) KiB"
echo "== GET /v1/orders/by-reference/$REFERENCE ($CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
  -H "Authorization: Bearer $API_KEY" "$BASE/v1/orders/by-reference/$REFERENCE"
echo "== POST /v1/orders ($CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/create_order.lua "$BASE/v1/orders"
echo "== RSS after load: $(ps -o rss= -p $PID) KiB"
echo "== orders stored: $(psql "$SERVER/orderpay_bench" -Atc 'select count(*) from orders')"
