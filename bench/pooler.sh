#!/usr/bin/env bash
# What running behind a transaction-mode pooler costs: this tree's release build, the hot
# paths served with DATABASE_URL straight to PostgreSQL and through Debian's PgBouncer in
# transaction mode (`?pgbouncer=true`, with DATABASE_DIRECT_URL for sessions), alternated
# round by round in one run, on the data bench/run.sh seeds. PgBouncer gets as many server
# connections as the app's pool, so the difference is the pooled mode's own cost: a
# transaction per store call (BEGIN with its deadline, COMMIT) and statements prepared in
# it rather than cached, plus PgBouncer's hop.
#
#   bash bench/pooler.sh                        # 3 rounds, 15 s per measurement
#   ROUNDS=5 DURATION=20s bash bench/pooler.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need wrk psql curl
[ -x /usr/sbin/pgbouncer ] || { echo "bench needs pgbouncer (apt-get install pgbouncer)" >&2; exit 1; }

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
POOL=${POOL:-10}
PORT=${PORT:-18084}
BOUNCER_PORT=${BOUNCER_PORT:-16432}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001

cargo build --release -q -p orderpay --bins
db=orderpay_bench_pooler
fresh_database now $db
psql "$SERVER/$db" -q -f bench/seed.sql
API_KEY=$(api_key now $db)
export API_KEY

dir=$(mktemp -d /tmp/orderpay-bench-pgbouncer.XXXX)
chmod 777 "$dir"
echo '"postgres" ""' > "$dir/userlist.txt"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 1000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
as_user=""; [ "$(id -u)" = 0 ] && as_user="-u postgres"
/usr/sbin/pgbouncer -d $as_user "$dir/pgbouncer.ini"
trap 'kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do psql "postgres://postgres@127.0.0.1:$BOUNCER_PORT/$db" -Atc 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done

declare -A URL=([direct]="" [pooled]="postgres://postgres@127.0.0.1:$BOUNCER_PORT/$db?sslmode=disable&pgbouncer=true")
declare -A SUM
echo "== $(nproc) cores; wrk $CONNECTIONS connections, $DURATION each; app pool $POOL; PgBouncer $(/usr/sbin/pgbouncer --version | head -1 | cut -d' ' -f2), $POOL server connections"
printf '| round | mode | lookup req/s | p50 | p99 | create req/s | p50 | p99 |\n|---|---|---|---|---|---|---|---|\n'
for round in $(seq 1 "$ROUNDS"); do
  for mode in direct pooled; do
    SERVE_DATABASE_URL=${URL[$mode]} DATABASE_DIRECT_URL="$SERVER/$db" DATABASE_POOL_SIZE=$POOL serve now $db
    lookup=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/lookup.lua "http://127.0.0.1:$PORT")
    create=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/create.lua "http://127.0.0.1:$PORT")
    stop
    SUM[$mode.lookup]=$(( ${SUM[$mode.lookup]:-0} + $(echo "$lookup" | rps) ))
    SUM[$mode.create]=$(( ${SUM[$mode.create]:-0} + $(echo "$create" | rps) ))
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$mode" \
      "$(echo "$lookup" | rps)" "$(echo "$lookup" | pct 50)" "$(echo "$lookup" | pct 99)" \
      "$(echo "$create" | rps)" "$(echo "$create" | pct 50)" "$(echo "$create" | pct 99)"
  done
done
echo
for path in lookup create; do
  echo "$path: pooled / direct = $(ratio "${SUM[pooled.$path]}" "${SUM[direct.$path]}")x over $ROUNDS rounds"
done
