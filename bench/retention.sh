#!/usr/bin/env bash
# Retention at scale: 10 million webhook deliveries (1,000 endpoints x 10,000 order.created
# events of bench/seed.sql's orders, made over 60 days, 90% settled with a stored answer),
# then the purge statement of crates/postgres/src/webhooks/retention.rs (5,000 rows a
# statement, oldest settled first, through the partial index `webhook_deliveries_settled`)
# run by pgbench, one client, $BATCHES statements: each statement's latency is how long it
# holds its row locks. Then how long a claim of due deliveries takes while the purge runs.
#
#   bash bench/retention.sh
#   DELIVERIES_PER_EVENT=100 bash bench/retention.sh     # 1 million instead
#
# Needs psql and pgbench. The database orderpay_bench_retention is recreated. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ENDPOINTS=${DELIVERIES_PER_EVENT:-1000}
BATCHES=${BATCHES:-400}
CLAIM_SECONDS=${CLAIM_SECONDS:-60}
need psql pgbench
cargo build --release -q -p orderpay --bins
db=orderpay_bench_retention
fresh_database now "$db"
psql "$SERVER/$db" -q -f bench/seed.sql
started=$(date +%s)
psql "$SERVER/$db" -q <<SQL
INSERT INTO order_events (id, order_id, type, created_at, published)
SELECT gen_random_uuid(), o.id, 'order.created', o.created_at, true FROM orders o;
INSERT INTO webhook_endpoints (id, url, enabled_events, status, created_at, updated_at)
SELECT gen_random_uuid(), 'https://hooks.example.com/' || i, '{*}', 'enabled', now(), now()
  FROM generate_series(1, $ENDPOINTS) i;
INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, event_sequence, status,
    attempts, next_attempt_at, last_attempt_at, last_status, last_duration_ms, last_response,
    created_at)
SELECT w.id, e.id, e.order_id, e.sequence, s.status, 1,
       CASE WHEN s.status = 'pending' THEN now() + interval '1 hour' END,
       s.at, 200, 12, '{"received":true}', s.at
  FROM order_events e CROSS JOIN webhook_endpoints w
  CROSS JOIN LATERAL (SELECT CASE WHEN random() < 0.9 THEN 'succeeded' ELSE 'pending' END
                             AS status,
                             now() - random() * interval '60 days' AS at
                       WHERE w.id IS NOT NULL AND e.id IS NOT NULL) s;
VACUUM ANALYZE;
SQL
echo "== $(psql "$SERVER/$db" -Atc "SELECT count(*) FROM webhook_deliveries") deliveries," \
  "$(psql "$SERVER/$db" -Atc "SELECT count(*) FROM webhook_deliveries WHERE status <> 'pending' AND created_at < now() - interval '30 days'") settled and older than 30 days;" \
  "table and indexes $(psql "$SERVER/$db" -Atc "SELECT pg_size_pretty(pg_total_relation_size('webhook_deliveries'))");" \
  "made in $(( $(date +%s) - started )) s"
cat > target/bench_purge.sql <<'SQL'
DELETE FROM webhook_deliveries WHERE id IN (
    SELECT id FROM webhook_deliveries
     WHERE status <> 'pending' AND created_at < now() - interval '30 days'
     ORDER BY created_at LIMIT 5000
       FOR UPDATE SKIP LOCKED);
SQL
cat > target/bench_claim.sql <<'SQL'
SELECT id FROM webhook_deliveries c
 WHERE c.endpoint_id = (SELECT id FROM webhook_endpoints ORDER BY random() LIMIT 1)
   AND c.status = 'pending' AND c.next_attempt_at <= now() + interval '2 hours'
 ORDER BY c.next_attempt_at, c.event_sequence LIMIT 8 FOR UPDATE OF c SKIP LOCKED;
SQL
echo "-- the purge, $BATCHES statements of 5,000 rows, one client, while claims run beside it for $CLAIM_SECONDS s"
pgbench -n -f target/bench_claim.sql -c 1 -T "$CLAIM_SECONDS" "$SERVER/$db" > target/bench_claim.log 2>&1 &
claims=$!
rm -f target/bench_purge_log*
pgbench -n -f target/bench_purge.sql -c 1 -t "$BATCHES" -l --log-prefix=target/bench_purge_log \
  "$SERVER/$db" 2>&1 | grep -E "latency|tps"
# Each line of the log: client, transaction, latency in microseconds, ...
sort -n -k3 target/bench_purge_log* | awk '{ l[NR] = $3 } END {
  printf "per statement: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
    l[int(NR * 0.5)] / 1000, l[int(NR * 0.99)] / 1000, l[NR] / 1000 }'
wait "$claims" || true
echo "-- the claims beside it for its first $CLAIM_SECONDS s (one client, 8 due of a random endpoint)"
grep -E "latency average|tps|number of transactions actually" target/bench_claim.log || true
echo "-- left: $(psql "$SERVER/$db" -Atc "SELECT count(*) FROM webhook_deliveries") deliveries"
