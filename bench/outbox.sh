#!/usr/bin/env bash
# Webhooks out, in one run on one machine:
#   1. what the outbox costs the hot write paths: POST /v1/orders (wrk, bench/create.lua) and
#      the Stripe webhook path (crates/app/examples/webhook_load.rs), for the commit before
#      webhooks out ($BEFORE, default 97c493c) and for this tree, this tree both with no
#      endpoint and with one endpoint subscribed to every event (a receiver answering 204);
#      then both again, before and now alternated for $ROUNDS rounds on fresh databases
#      (wrk for $ALT_DURATION, then $ALT_ORDERS distinct events), since one run of each
#      differs from the next by up to 20% on a small machine;
#   2. deliveries per second to a local receiver, and commit-to-receipt p50/p99 at $RATE/s
#      (crates/app/examples/outbox_load.rs: the receiver runs in the load's process, so both
#      times are on one clock; "commit" is the 201, which the commit precedes).
#
#   bash bench/outbox.sh
#   DURATION=30s ORDERS=50000 RATE=500 bash bench/outbox.sh
#   SECTIONS=alternated ROUNDS=8 bash bench/outbox.sh    # one part: single alternated deliveries
#
# Needs wrk and psql. Databases orderpay_bench_outbox_* are recreated. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export BEFORE=${BEFORE:-97c493c}
source bench/lib.sh
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POOL=${POOL:-10}
PORT=${PORT:-18084}
export BASE="http://127.0.0.1:$PORT" CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
export STRIPE_SECRET_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench WEBHOOK_SECRET=whsec_bench
export STRIPE_API_BASE=http://127.0.0.1:9 ORDERS=${ORDERS:-5000} STORM=1 CONCURRENCY=$CONNECTIONS
ROUNDS=${ROUNDS:-5}
ALT_ORDERS=${ALT_ORDERS:-6000}
ALT_DURATION=${ALT_DURATION:-10s}
SECTIONS=${SECTIONS:-single alternated deliveries}
section() { [[ " $SECTIONS " == *" $1 "* ]]; }
need wrk psql curl git

build_both --example webhook_load --example outbox_load
echo "== machine: $(nproc) cores; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version')"

# Build `$1`'s serve on a fresh, seeded database (orderpay_bench_outbox_$1), with a new
# API_KEY.
serve_fresh() {
  local db=orderpay_bench_outbox_$1
  fresh_database "$1" "$db"
  psql "$SERVER/$db" -q -f bench/seed.sql
  API_KEY=$(api_key "$1" "$db")
  export API_KEY
  DATABASE_POOL_SIZE=$POOL serve "$1" "$db"
}

declare -A CREATE EVENTS
section single && for run in before now now+endpoint; do
  build=${run%+endpoint}
  serve_fresh "$build"
  receiver=
  if [ "$run" = now+endpoint ]; then
    RECEIVE_FOR_SECONDS=600 target/release/examples/outbox_load &
    receiver=$!
    sleep 1
  fi
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/create.lua "$BASE")
  CREATE[$run]="$(echo "$out" | rps) req/s, p50 $(echo "$out" | pct 50), p99 $(echo "$out" | pct 99)"
  EVENTS[$run]=$(target/release/examples/webhook_load | grep '^distinct')
  echo "   $run: POST /v1/orders ${CREATE[$run]}; Stripe events ${EVENTS[$run]}"
  [ -n "$receiver" ] && { kill "$receiver"; wait "$receiver" 2>/dev/null || true; }
  stop
done

section alternated && echo "== alternated: $ROUNDS rounds of POST /v1/orders for $ALT_DURATION," \
  "then $ALT_ORDERS distinct Stripe events"
declare -A SUM=([before]=0 [now]=0) POSTS=([before]=0 [now]=0)
section alternated && for round in $(seq 1 "$ROUNDS"); do
  for build in before now; do
    serve_fresh "$build"
    posts=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$ALT_DURATION" -s bench/create.lua "$BASE" | rps)
    rate=$(ORDERS=$ALT_ORDERS target/release/examples/webhook_load | grep '^distinct' \
      | sed -nE 's/.* = ([0-9]+)\/s.*/\1/p')
    stop
    SUM[$build]=$((SUM[$build] + rate))
    POSTS[$build]=$((POSTS[$build] + posts))
    echo "   round $round $build: POST /v1/orders $posts req/s; Stripe events $rate/s"
  done
done
section alternated && {
  echo "   POST /v1/orders mean: before $((POSTS[before] / ROUNDS)), now $((POSTS[now] / ROUNDS))" \
    "req/s = $(percent "${POSTS[now]}" "${POSTS[before]}") of before"
  echo "   Stripe events mean: before $((SUM[before] / ROUNDS))/s, now $((SUM[now] / ROUNDS))/s =" \
    "$(percent "${SUM[now]}" "${SUM[before]}") of before"
}

section deliveries && {
echo "== deliveries: this tree, one endpoint, a receiver in the load's process"
PORT=$((PORT + 1))
export BASE="http://127.0.0.1:$PORT"
serve_fresh now
ORDERS=${DELIVERIES:-20000} RATE=${RATE:-500} SECONDS=${SECONDS_PACED:-20} \
  target/release/examples/outbox_load
echo "   RSS: $(rss_mib) MiB"
stop
}

section single || exit 0
printf '\n| build | POST /v1/orders | Stripe webhook path (distinct events) |\n|---|---|---|\n'
for run in before now now+endpoint; do
  printf "| %s | %s | %s |\n" "$run" "${CREATE[$run]}" "${EVENTS[$run]#*: }"
done
