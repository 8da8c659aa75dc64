#!/usr/bin/env bash
# The one benchmark for the hot paths. In one run, on one machine:
#   1. builds the release binary of this tree, and of the commit $BEFORE (the commit before
#      the performance work) in a git worktree with its own target directory;
#   2. gives each build its own database, migrated by that build and seeded with
#      bench/seed.sql (10,000 orders of 2 items, references picked at random by the load);
#   3. runs pgbench on the exact statements each build sends per request
#      (bench/sql/<build>_<path>.sql): PostgreSQL's own ceiling for that build;
#   4. runs wrk against each build's `orderpay serve`;
#   5. prints a table: req/s, p50, p99, RSS under load, share of the ceiling, and now/before.
#
#   bash bench/run.sh                               # 15 s per measurement, 32 connections
#   DURATION=30s CONNECTIONS=64 POOL=16 bash bench/run.sh
#   BEFORE=<commit> bash bench/run.sh               # compare against another commit
#
# Needs wrk and pgbench (Debian: apt-get install wrk postgresql-contrib). Never run by CI;
# tests assert round trips, never times.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POOL=${POOL:-10}
PORT=${PORT:-18082}
PATHS=${PATHS:-lookup create}
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001
need wrk pgbench psql curl git

echo "== building this tree and $BEFORE (release)"
build_both
declare -A KEY
for build in before now; do
  fresh_database $build orderpay_bench_$build
  psql "$SERVER/orderpay_bench_$build" -q -f bench/seed.sql
  KEY[$build]=$(api_key $build orderpay_bench_$build)
done

# An API key opk_<prefix>_<secret>: its prefix, which the key lookup selects by.
prefix_of() { local rest=${1#opk_}; echo "${rest%%_*}"; }
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; PostgreSQL $(psql "$SERVER/postgres" -Atc 'show server_version')"
echo "== pgbench: each build's statements per request ($CONNECTIONS clients, $DURATION each)"
declare -A CEILING
for path in $PATHS; do
  for build in before now; do
    CEILING[$build.$path]=$(pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" \
      -T "${DURATION%s}" -D key_prefix="$(prefix_of "${KEY[$build]}")" \
      -f "bench/sql/${build}_$path.sql" "$SERVER/orderpay_bench_$build" 2>target/bench/pgbench.log | tps)
    [ -n "${CEILING[$build.$path]}" ] || { cat target/bench/pgbench.log >&2; exit 1; }
    echo "   $build $path: ${CEILING[$build.$path]} tps"
  done
done

echo "== wrk: orderpay serve ($CONNECTIONS connections, $DURATION each, pool of $POOL)"
declare -A OUT RSS
for build in before now; do
  DATABASE_POOL_SIZE=$POOL serve $build orderpay_bench_$build
  for path in $PATHS; do
    OUT[$build.$path]=$(API_KEY=${KEY[$build]} wrk -t"$THREADS" -c"$CONNECTIONS" \
      -d"$DURATION" --latency -s "bench/$path.lua" "http://127.0.0.1:$PORT")
    RSS[$build.$path]=$(rss_mib)
    echo "   $build $path: $(echo "${OUT[$build.$path]}" | rps) req/s"
  done
  stop
done

printf '\n| path | build | pgbench tps | orderpay req/s | of ceiling | p50 | p99 | RSS |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for path in $PATHS; do
  for build in before now; do
    out=${OUT[$build.$path]}
    printf '| %s | %s | %s | %s | %s | %s | %s | %s MiB |\n' "$path" "$build" \
      "${CEILING[$build.$path]}" "$(echo "$out" | rps)" \
      "$(percent "$(echo "$out" | rps)" "${CEILING[$build.$path]}")" \
      "$(echo "$out" | pct 50)" "$(echo "$out" | pct 99)" "${RSS[$build.$path]}"
  done
done
echo
for path in $PATHS; do
  echo "$path: now / before = $(ratio "$(echo "${OUT[now.$path]}" | rps)" "$(echo "${OUT[before.$path]}" | rps)")x"
done
