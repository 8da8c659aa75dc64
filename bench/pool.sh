#!/usr/bin/env bash
# Pool size against throughput and tail latency, and a pool per HTTP worker (each worker's
# connections driven on its own thread) against one pool shared by both workers. This
# tree's release build only, on the data bench/run.sh seeds (run that first, or this seeds
# orderpay_bench_now itself).
#
#   bash bench/pool.sh                         # pools of 2 4 8 16 32, 10 s per measurement
#   SIZES="4 16" DURATION=20s bash bench/pool.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need wrk psql curl

SIZES=${SIZES:-2 4 8 16 32}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18083}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001

cargo build --release -q -p orderpay --bins
db=orderpay_bench_pool
fresh_database now $db
psql "$SERVER/$db" -q -f bench/seed.sql
API_KEY=$(api_key now $db)
export API_KEY

echo "== $(nproc) cores; wrk $CONNECTIONS connections, $DURATION each; 2 HTTP workers"
printf '| pool | per worker | lookup req/s | p50 | p99 | create req/s | p50 | p99 |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for size in $SIZES; do
  for per_worker in true false; do
    HTTP_WORKERS=2 DATABASE_POOL_SIZE=$size DATABASE_POOL_PER_WORKER=$per_worker serve now $db
    lookup=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/lookup.lua "http://127.0.0.1:$PORT")
    create=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/create.lua "http://127.0.0.1:$PORT")
    stop
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$size" "$per_worker" \
      "$(echo "$lookup" | rps)" "$(echo "$lookup" | pct 50)" "$(echo "$lookup" | pct 99)" \
      "$(echo "$create" | rps)" "$(echo "$create" | pct 50)" "$(echo "$create" | pct 99)"
  done
done
