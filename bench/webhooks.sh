#!/usr/bin/env bash
# Signed Stripe webhook events applied per second, against the release binary and a local
# PostgreSQL: distinct events (each pays an order, in one transaction with its event id) and a
# storm of duplicates of one event. Run on demand, never in CI.
#
#   bash bench/webhooks.sh                       # 5,000 of each, 32 in flight
#   ORDERS=20000 STORM=20000 CONCURRENCY=64 bash bench/webhooks.sh
#
# Needs psql. The database orderpay_bench_webhooks is recreated. Stripe's API is never called
# (events only); STRIPE_API_BASE points nowhere.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@localhost:5432}
PORT=${PORT:-18081}
export BASE="http://127.0.0.1:$PORT" ORDERS=${ORDERS:-5000} STORM=${STORM:-5000}
export CONCURRENCY=${CONCURRENCY:-32} WEBHOOK_SECRET=whsec_bench

cargo build --release -q -p orderpay --bins --example webhook_load
BIN=target/release/orderpay

psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS orderpay_bench_webhooks WITH (FORCE)"
export DATABASE_URL="$SERVER/orderpay_bench_webhooks" HOST=127.0.0.1 PORT RUST_LOG=warn
export STRIPE_SECRET_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
export STRIPE_API_BASE=http://127.0.0.1:9 RECONCILE_INTERVAL_SECONDS=0
API_KEY=$($BIN api-key create --name bench 2>/dev/null)
export API_KEY

$BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine: $(nproc) cores; $(psql "$SERVER/postgres" -Atc 'show server_version')"
target/release/examples/webhook_load
echo "== RSS after load: $(ps -o rss= -p $PID) KiB"
db="$SERVER/orderpay_bench_webhooks"
echo "== orders paid: $(psql "$db" -Atc "select count(*) from orders where status = 'paid'") of $ORDERS"
echo "== order.paid history rows: $(psql "$db" -Atc "select count(*) from order_events where type = 'order.paid'")"
echo "== processed event ids: $(psql "$db" -Atc 'select count(*) from processed_events')"
