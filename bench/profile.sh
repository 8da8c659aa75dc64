#!/usr/bin/env bash
# Where a request's CPU goes: callgrind (instruction counts, repeatable whatever else the
# machine is doing) over `orderpay serve` with one HTTP worker, once idle and once driven by
# wrk over one connection; the difference, divided by the requests served, is the service's
# own user-space instructions per request. Prints the top functions, self and inclusive.
#
#   bash bench/profile.sh                  # GET /v1/orders/by-reference, 20 s
#   PATH_KIND=create SECS=10 bash bench/profile.sh
#   BUILD=before bash bench/profile.sh     # the build before the performance work
#
# Needs valgrind and wrk. Uses its own database, orderpay_bench_profile.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need valgrind callgrind_annotate wrk psql curl

BUILD=${BUILD:-now}
PATH_KIND=${PATH_KIND:-lookup}
SECS=${SECS:-20}
PORT=${PORT:-18095}
OUT=${OUT:-target/bench/callgrind}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001

if [ "$BUILD" = now ]; then cargo build --release -q -p orderpay --bins; else build_both; fi
db=orderpay_bench_profile
fresh_database "$BUILD" $db
psql "$SERVER/$db" -q -f bench/seed.sql
API_KEY=$(api_key "$BUILD" $db)
export API_KEY
mkdir -p "$OUT"

# Runs serve under callgrind; $1 = seconds of load (0: none). Prints requests served.
profiled() {
  DATABASE_URL="$SERVER/$db" HOST=127.0.0.1 PORT=$PORT RUST_LOG=warn HTTP_WORKERS=1 \
    RECONCILE_INTERVAL_SECONDS=0 DATABASE_POOL_SIZE=1 \
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$2" "${BIN[$BUILD]}" serve 2>/dev/null &
  local pid=$! served=0
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  # Warm: the connection open, its statements prepared, the key verified once.
  for n in $(seq 1 20); do
    curl -sf -o /dev/null -H "Authorization: Bearer $API_KEY" \
      "http://127.0.0.1:$PORT/v1/orders/by-reference/$(printf %08X "$n")"
  done
  if [ "$1" -gt 0 ]; then
    served=$(wrk -t1 -c1 -d"${1}s" -s "bench/$PATH_KIND.lua" "http://127.0.0.1:$PORT" |
      sed -nE 's/^ *([0-9]+) requests in.*/\1/p')
  fi
  kill $pid; wait $pid 2>/dev/null || true
  echo "$served"
}
total() { callgrind_annotate "$OUT/$1" 2>/dev/null | sed -nE 's/^ *([0-9,]+) .*PROGRAM TOTALS.*/\1/p' | tr -d ,; }

profiled 0 "$BUILD-idle.out" >/dev/null
served=$(profiled "$SECS" "$BUILD-$PATH_KIND.out")
idle=$(total "$BUILD-idle.out")
loaded=$(total "$BUILD-$PATH_KIND.out")
echo "== $BUILD, $PATH_KIND: $served requests under callgrind"
echo "== instructions per request: $(( (loaded - idle) / served )) (loaded $loaded, idle $idle)"
echo "== top functions, self"
callgrind_annotate --inclusive=no "$OUT/$BUILD-$PATH_KIND.out" 2>/dev/null | sed -n '/file:function/,$p' |
  sed -n 3,22p | sed -E 's/\[[^]]*\]$//' | cut -c1-160
echo "== top functions, inclusive (below the runtime and HTTP dispatch frames)"
callgrind_annotate --inclusive=yes "$OUT/$BUILD-$PATH_KIND.out" 2>/dev/null | sed -n '/file:function/,$p' |
  sed -n 3,60p | sed -E 's/\[[^]]*\]$//' | grep -vE 'tokio::|std::|start_thread|actix_service|core::pin|core::ops' |
  head -25 | cut -c1-160
