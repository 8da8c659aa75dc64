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

BEFORE=${BEFORE:-cff3244}
SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@localhost:5432}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POOL=${POOL:-10}
PORT=${PORT:-18082}
PATHS=${PATHS:-lookup create}
BASE="http://127.0.0.1:$PORT"
export CUSTOMER_ID=01a21a70-0000-7000-8000-00000000c001

for tool in wrk pgbench psql curl git; do
  command -v $tool >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
done

echo "== building this tree and $BEFORE (release)"
cargo build --release -q -p orderpay --bins
worktree=target/bench/before
if [ "$(git -C "$worktree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BEFORE")" ]; then
  git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
  git worktree prune
  git worktree add -q --detach "$worktree" "$BEFORE"
fi
(cd "$worktree" && CARGO_TARGET_DIR=../before-target cargo build --release -q -p orderpay --bins)
declare -A BIN=([before]=target/bench/before-target/release/orderpay [now]=target/release/orderpay)

# The database of `build`, migrated by its own binary and seeded; prints an API key.
prepare() {
  local build=$1 db="$SERVER/orderpay_bench_$1"
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS orderpay_bench_$build WITH (FORCE)"
  DATABASE_URL=$db RUST_LOG=error "${BIN[$build]}" migrate >/dev/null
  psql "$db" -q -f bench/seed.sql
  DATABASE_URL=$db RUST_LOG=error "${BIN[$build]}" api-key create --name bench 2>/dev/null
}
declare -A KEY
for build in before now; do KEY[$build]=$(prepare $build); done

# An API key opk_<prefix>_<secret>: its prefix, which the key lookup selects by.
prefix_of() { local rest=${1#opk_}; echo "${rest%%_*}"; }
tps() { sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -1 | cut -d. -f1; }
rps() { sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' | cut -d. -f1; }
pct() { sed -nE "s/^ *$1% *([0-9.]+[a-z]+)/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }

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
  DATABASE_URL="$SERVER/orderpay_bench_$build" HOST=127.0.0.1 PORT=$PORT RUST_LOG=warn \
    RECONCILE_INTERVAL_SECONDS=0 DATABASE_POOL_SIZE=$POOL "${BIN[$build]}" serve &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
  for path in $PATHS; do
    OUT[$build.$path]=$(API_KEY=${KEY[$build]} wrk -t"$THREADS" -c"$CONNECTIONS" \
      -d"$DURATION" --latency -s "bench/$path.lua" "$BASE")
    RSS[$build.$path]=$(( $(ps -o rss= -p $pid) / 1024 ))
    echo "   $build $path: $(echo "${OUT[$build.$path]}" | rps) req/s"
  done
  kill $pid; wait $pid 2>/dev/null || true
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
