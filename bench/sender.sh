#!/usr/bin/env bash
# The webhook sender before and after issue 25 (each delivery recorded on its own, a fair share
# per endpoint), in one run on one machine: for each build, deliveries per second to a local
# receiver (a flood of $ORDERS orders) and commit-to-receipt p50/p99 at $RATE/s for $SECONDS_PACED
# s; then the same with a hanging endpoint (accepts, never answers) subscribed beside the
# healthy one, at $HANG_ORDERS orders and $HANG_RATE/s. The load and the receivers are this
# tree's crates/app/examples/outbox_load.rs for both builds (the API is the same).
#
#   bash bench/sender.sh
#   BEFORE=723c96c ORDERS=5000 RATE=200 bash bench/sender.sh
#
# Needs psql and curl. Databases orderpay_bench_sender_* are recreated. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export BEFORE=${BEFORE:-723c96c}
source bench/lib.sh
BIN[before]=target/bench/before25-target/release/orderpay
ORDERS=${ORDERS:-5000}
RATE=${RATE:-200}
SECONDS_PACED=${SECONDS_PACED:-10}
HANG_ORDERS=${HANG_ORDERS:-1000}
HANG_RATE=${HANG_RATE:-50}
PORT=${PORT:-18087}
export BASE="http://127.0.0.1:$PORT" CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
need psql curl git

cargo build --release -q -p orderpay --bins --example outbox_load
worktree=target/bench/before25
if [ "$(git -C "$worktree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BEFORE")" ]; then
  git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
  git worktree prune
  git worktree add -q --detach "$worktree" "$BEFORE"
fi
# A first build starts from this tree's compiled dependencies (see build_both in lib.sh).
if [ ! -d target/bench/before25-target/release ] && [ -d target/release/deps ]; then
  mkdir -p target/bench/before25-target
  cp -a target/release target/bench/before25-target/
fi
(cd "$worktree" && CARGO_TARGET_DIR=../before25-target cargo build --release -q -p orderpay --bins)
echo "== machine: $(nproc) cores; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version'); before = $BEFORE, now = $(git rev-parse --short HEAD)"

for hanging in 0 1; do
  for build in before now; do
    db=orderpay_bench_sender_$build
    fresh_database "$build" "$db"
    psql "$SERVER/$db" -q -f bench/seed.sql
    API_KEY=$(api_key "$build" "$db")
    export API_KEY
    serve "$build" "$db"
    if [ "$hanging" = 1 ]; then
      echo "-- $build, a hanging endpoint beside the healthy one"
      HANGING=1 ORDERS=$HANG_ORDERS RATE=$HANG_RATE SECONDS=$SECONDS_PACED \
        target/release/examples/outbox_load
    else
      echo "-- $build"
      ORDERS=$ORDERS RATE=$RATE SECONDS=$SECONDS_PACED target/release/examples/outbox_load
    fi
    stop
  done
done
