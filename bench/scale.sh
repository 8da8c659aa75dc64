#!/usr/bin/env bash
# The hot paths at 10 thousand and at 10 million orders, in one run of this tree's release
# build: lookup by reference, create, a customer's first and 1000th page of orders (5 a page,
# by cursor), customer by phone, and the event feed. Each scale is its own database, seeded by
# bench/seed_scale.sql: 1,000 customers with 5,000 orders each and 5 million with one at 10
# million; 1 customer with 5,000 and 5,000 with one at 10 thousand (so the customer whose pages
# are read has 5,000 orders at both). Then the plans of the statements the service sent (by
# auto_explain, from PostgreSQL's log), and the tables' and indexes' sizes.
#
#   bash bench/scale.sh                 # seeds both (10 M takes a while) and measures
#   SKIP_SEED=1 bash bench/scale.sh     # measures again on the databases already seeded
#   SKIP_SEED=1 LOAD_SCALES= bash bench/scale.sh   # only the plans and the sizes
#   SHARED_BUFFERS=8GB SKIP_SEED=1 bash bench/scale.sh  # the working set in memory: PostgreSQL's
#       buffer cache set to that for the run (restarted; reset after), and the hot paths'
#       tables and indexes loaded into it (pg_prewarm) before each scale is measured
#
# Each path starts after a CHECKPOINT, so none pays for the writes of the one before it.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need wrk psql curl

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18085}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
PG_LOG=${PG_LOG:-$(ls -t /var/log/postgresql/postgresql-*-main.log | head -1)}
declare -A N_ORDERS=([10k]=10000 [10M]=10000000) BIG=([10k]=1 [10M]=1000) N_CUSTOMERS=([10k]=5001 [10M]=5001000)

cargo build --release -q -p orderpay --bins
if [ -n "${SHARED_BUFFERS:-}" ]; then
  cluster="$(ls /etc/postgresql) main"
  restart() { pg_ctlcluster --skip-systemctl-redirect $cluster restart; }
  psql "$SERVER/postgres" -qc "ALTER SYSTEM SET shared_buffers = '$SHARED_BUFFERS'"
  restart
  trap 'psql "$SERVER/postgres" -qc "ALTER SYSTEM RESET shared_buffers"; restart' EXIT
  echo "== shared_buffers $(psql "$SERVER/postgres" -Atc 'SHOW shared_buffers')"
fi
HOT_RELATIONS="'orders', 'orders_reference_key', 'orders_pkey', 'orders_by_customer_newest_first',
  'order_items', 'order_items_pkey', 'customers', 'customers_phone_key', 'order_events_pkey'"
for scale in 10k 10M; do
  db=orderpay_bench_scale_$scale
  if [ -z "${SKIP_SEED:-}" ]; then
    echo "== seeding $scale ($(date +%T))"
    fresh_database now $db
    time psql "$SERVER/$db" -q -v orders="${N_ORDERS[$scale]}" -v big="${BIG[$scale]}" -v per_big=5000 \
      -f bench/seed_scale.sql
  fi
done

echo "== $(nproc) cores; wrk $CONNECTIONS connections, $DURATION each"
declare -A RPS
for scale in ${LOAD_SCALES-10k 10M}; do
  db=orderpay_bench_scale_$scale
  API_KEY=$(api_key now $db); export API_KEY
  export ORDERS=${N_ORDERS[$scale]} CUSTOMERS=${N_CUSTOMERS[$scale]}
  # The 1000th page starts after the customer's 4,995th newest order.
  AFTER_1000=$(psql "$SERVER/$db" -Atc "SELECT id FROM orders WHERE customer_id = '$CUSTOMER_ID'
      ORDER BY created_at DESC, id DESC OFFSET 4994 LIMIT 1")
  if [ -n "${SHARED_BUFFERS:-}" ]; then
    psql "$SERVER/$db" -qAtc "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT 'prewarmed ' || pg_size_pretty(sum(pg_prewarm(oid)) * 8192) FROM pg_class
          WHERE relname IN ($HOT_RELATIONS)"
  fi
  serve now $db
  for path in lookup create page1 page1000 phone events; do
    psql "$SERVER/$db" -qc "CHECKPOINT"
    case $path in
      lookup) script=bench/lookup.lua; export AFTER= ;;
      create) script=bench/create.lua ;;
      page1) script=bench/customer_orders.lua; export AFTER= ;;
      page1000) script=bench/customer_orders.lua; export AFTER=$AFTER_1000 ;;
      phone) script=bench/customer_by_phone.lua ;;
      events) script=bench/events.lua ;;
    esac
    out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "http://127.0.0.1:$PORT")
    if echo "$out" | grep -q "Non-2xx"; then echo "$scale $path: $(echo "$out" | grep Non-2xx)" >&2; exit 1; fi
    RPS[$scale.$path]=$(echo "$out" | rps)
    echo "   $scale $path: ${RPS[$scale.$path]} req/s, p50 $(echo "$out" | pct 50), p99 $(echo "$out" | pct 99)"
  done
  stop
done
echo
[ -n "${LOAD_SCALES-x}" ] && printf '| path | 10 thousand req/s | 10 million req/s | 10M / 10k |\n|---|---|---|---|\n'
[ -n "${LOAD_SCALES-x}" ] && for path in lookup create page1 page1000 phone events; do
  printf '| %s | %s | %s | %s |\n' "$path" "${RPS[10k.$path]}" "${RPS[10M.$path]}" \
    "$(ratio "${RPS[10M.$path]}" "${RPS[10k.$path]}")"
done

echo
echo "== plans at 10 million (auto_explain: one request of each path)"
mkdir -p target/bench
db=orderpay_bench_scale_10M
psql "$SERVER/$db" -qc "ALTER DATABASE \"$db\" SET session_preload_libraries = 'auto_explain'" \
  -c "ALTER DATABASE \"$db\" SET auto_explain.log_min_duration = 0" \
  -c "ALTER DATABASE \"$db\" SET auto_explain.log_format = 'text'"
API_KEY=$(api_key now $db); export API_KEY
mark=$(wc -l < "$PG_LOG")
serve now $db
key="Authorization: Bearer $API_KEY"
base=http://127.0.0.1:$PORT
curl -sf -H "$key" "$base/v1/orders/by-reference/004C4B40" >/dev/null
curl -sf -H "$key" -H 'Content-Type: application/json' -X POST "$base/v1/orders" \
  -d "{\"customer_id\":\"$CUSTOMER_ID\",\"currency\":\"usd\",\"items\":[{\"name\":\"Tea\",\"quantity\":1,\"unit_amount\":450}]}" >/dev/null
curl -sf -H "$key" "$base/v1/orders?customer_id=$CUSTOMER_ID&limit=5" >/dev/null
AFTER_1000=$(psql "$SERVER/$db" -Atc "SELECT id FROM orders WHERE customer_id = '$CUSTOMER_ID'
    ORDER BY created_at DESC, id DESC OFFSET 4994 LIMIT 1")
curl -sf -H "$key" "$base/v1/orders?customer_id=$CUSTOMER_ID&limit=5&starting_after=$AFTER_1000" >/dev/null
curl -sf -H "$key" "$base/v1/customers?phone=%2B12012500000" >/dev/null
curl -sf -H "$key" "$base/v1/events?limit=10" >/dev/null
stop
psql "$SERVER/$db" -qc "ALTER DATABASE \"$db\" RESET ALL"
tail -n +"$((mark + 1))" "$PG_LOG" | grep -v "^\s*$" | sed -n '/duration:/,$p' > target/bench/scale_plans.txt || true
grep -c "Seq Scan" target/bench/scale_plans.txt | sed 's/^/sequential scans in the plans: /' || true
grep -E "Query Text|Index|Seq Scan|->" target/bench/scale_plans.txt | head -120

echo
echo "== sizes at 10 million"
psql "$SERVER/$db" -c "SELECT c.relname AS relation, c.relkind AS kind,
    pg_size_pretty(pg_relation_size(c.oid)) AS size,
    round(pg_relation_size(c.oid) / 10.0 / 1024 / 1024, 1) AS mib_per_million_orders
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND pg_relation_size(c.oid) > 1024 * 1024
  ORDER BY pg_relation_size(c.oid) DESC"
psql "$SERVER/$db" -Atc "SELECT 'database: ' || pg_size_pretty(pg_database_size('$db'))"
