#!/usr/bin/env bash
# Lists stay flat: page 1 and page 1,000 of a 100,000-order list (100 orders a page), served
# by this tree's release build, with wrk, in one run; then the EXPLAIN ANALYZE of the page
# statement orderpay sends (bench/sql/list_page.sql) for both pages.
#
#   bash bench/pages.sh                    # 10 s per page, 32 connections
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need wrk psql curl

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18084}
ORDERS=${ORDERS:-100000}
LIMIT=${LIMIT:-100}

cargo build --release -q -p orderpay --bins
db=orderpay_bench_pages
fresh_database now $db
psql "$SERVER/$db" -q -v orders="$ORDERS" -f bench/seed.sql
export API_KEY
API_KEY=$(api_key now $db)
# Page 1,000 starts after the last order of page 999.
page=$(( ORDERS / LIMIT ))
cursor=$(psql "$SERVER/$db" -Atc "SELECT id FROM orders ORDER BY created_at DESC, id DESC
                                   OFFSET $(( (page - 1) * LIMIT - 1 )) LIMIT 1")

serve now $db
auth="Authorization: Bearer $API_KEY"
first="/v1/orders?limit=$LIMIT"
last="/v1/orders?limit=$LIMIT&starting_after=$cursor"
count() { curl -sf -H "$auth" "http://127.0.0.1:$PORT$1" | grep -o '"object":"order"' | wc -l; }
echo "== $ORDERS orders; page 1 has $(count "$first") orders, page $page has $(count "$last")"
echo "| page | req/s | p50 | p99 |"
echo "|---|---|---|---|"
for p in 1 "$page"; do
  path=$first; [ "$p" = 1 ] || path=$last
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$auth" "http://127.0.0.1:$PORT$path")
  echo "| $p | $(echo "$out" | rps) | $(echo "$out" | pct 50) | $(echo "$out" | pct 99) |"
done
stop

for p in 1 "$page"; do
  after=(); [ "$p" = 1 ] || after=(-v after="'$cursor'")
  echo "== EXPLAIN ANALYZE, page $p"
  psql "$SERVER/$db" -q "${after[@]}" -v lim=$(( LIMIT + 1 )) -f bench/sql/list_page.sql |
    grep -E "Index|Scan|Execution|Limit|Sort|Buffers" | sed 's/^ *//' | cut -c1-150
done
