#!/usr/bin/env bash
# Signed Stripe webhook events applied per second by the build before the performance work
# ($BEFORE, see bench/lib.sh) and by this tree, in one run, with the same load generator
# (crates/app/examples/webhook_load.rs): distinct events (each pays an order) and a storm of
# duplicates of one event. Run on demand, never in CI.
#
#   bash bench/webhooks.sh                       # 5,000 of each, 32 in flight
#   ORDERS=20000 STORM=20000 CONCURRENCY=64 BUILDS=now bash bench/webhooks.sh
#
# Needs psql. Databases orderpay_bench_webhooks_<build> are recreated. Stripe's API is never
# called (events only); STRIPE_API_BASE points nowhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need psql curl git

PORT=${PORT:-18081}
BUILDS=${BUILDS:-before now}
export BASE="http://127.0.0.1:$PORT" ORDERS=${ORDERS:-5000} STORM=${STORM:-5000}
export CONCURRENCY=${CONCURRENCY:-32} WEBHOOK_SECRET=whsec_bench
export STRIPE_SECRET_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
export STRIPE_API_BASE=http://127.0.0.1:9

build_both --example webhook_load
echo "== machine: $(nproc) cores; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version')"
for build in $BUILDS; do
  db=orderpay_bench_webhooks_$build
  fresh_database "$build" "$db"
  API_KEY=$(api_key "$build" "$db")
  export API_KEY
  serve "$build" "$db"
  echo "== $build"
  target/release/examples/webhook_load
  echo "   RSS after load: $(rss_mib) MiB"
  stop
  q() { psql "$SERVER/$db" -Atc "$1"; }
  echo "   orders paid: $(q "select count(*) from orders where status = 'paid'") of $ORDERS;" \
    "order.paid history rows: $(q "select count(*) from order_events where type = 'order.paid'");" \
    "processed event ids: $(q 'select count(*) from processed_events')"
done
