#!/usr/bin/env bash
# This tree against any earlier commit, alternated: $ROUNDS rounds of before then now, each
# build on its own database seeded with bench/seed.sql (10,000 orders), wrk on lookups by
# reference and on creates for $DURATION each, and the process's RSS after each. One run of
# one build differs from the next by up to 20% on a small machine; alternating spreads that
# over both builds, and the means are compared.
#
#   BEFORE=4ba4aff bash bench/ab.sh                 # 3 rounds, 10 s a path
#   BEFORE=<commit> ROUNDS=5 DURATION=15s PATHS=lookup bash bench/ab.sh
#
# Needs wrk and psql. Databases orderpay_bench_ab_{before,now} are recreated. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POOL=${POOL:-10}
PORT=${PORT:-18086}
PATHS=${PATHS:-lookup create}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
need wrk psql curl git

build_both
echo "== $BEFORE against $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes');" \
  "$(nproc) cores; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version');" \
  "wrk $THREADS threads, $CONNECTIONS connections, $DURATION a path; pool of $POOL"
declare -A KEY SUM RSS_MAX
for build in before now; do
  fresh_database $build orderpay_bench_ab_$build
  psql "$SERVER/orderpay_bench_ab_$build" -q -f bench/seed.sql
  KEY[$build]=$(api_key $build orderpay_bench_ab_$build)
  for path in $PATHS; do SUM[$build.$path]=0; done
  RSS_MAX[$build]=0
done

printf '| round | build |'; for path in $PATHS; do printf ' %s req/s | p99 |' "$path"; done
printf ' RSS |\n|---|---|'; for _ in $PATHS; do printf -- '---|---|'; done; printf -- '---|\n'
for round in $(seq 1 "$ROUNDS"); do
  for build in before now; do
    DATABASE_POOL_SIZE=$POOL serve $build orderpay_bench_ab_$build
    printf '| %s | %s |' "$round" "$build"
    for path in $PATHS; do
      out=$(API_KEY=${KEY[$build]} wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s "bench/$path.lua" "http://127.0.0.1:$PORT")
      if echo "$out" | grep -q "Non-2xx"; then echo "$build $path: $(echo "$out" | grep Non-2xx)" >&2; exit 1; fi
      rate=$(echo "$out" | rps)
      SUM[$build.$path]=$((SUM[$build.$path] + rate))
      printf ' %s | %s |' "$rate" "$(echo "$out" | pct 99)"
    done
    rss=$(rss_mib)
    [ "$rss" -gt "${RSS_MAX[$build]}" ] && RSS_MAX[$build]=$rss
    printf ' %s MiB |\n' "$rss"
    stop
  done
done
echo
for path in $PATHS; do
  b=$((SUM[before.$path] / ROUNDS)) n=$((SUM[now.$path] / ROUNDS))
  echo "$path: means before $b, now $n req/s: now / before = $(ratio "$n" "$b")x"
done
echo "RSS under load, the most seen: before ${RSS_MAX[before]} MiB, now ${RSS_MAX[now]} MiB"
