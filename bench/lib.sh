# Shared by the bench scripts (sourced, not run).
#
# BEFORE: the commit the numbers are compared with: cff3244, the last commit before the
# performance work (issue 7). It is checked out in a git worktree under target/bench/ and
# built there with its own target directory, so both builds are measured in one run.
BEFORE=${BEFORE:-cff3244}
SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@localhost:5432}
declare -A BIN=([before]=target/bench/before-target/release/orderpay [now]=target/release/orderpay)

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
  done
}

# Builds this tree's release binary (with `$@` added to cargo's arguments) and $BEFORE's.
build_both() {
  cargo build --release -q -p orderpay --bins "$@"
  local worktree=target/bench/before
  if [ "$(git -C "$worktree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BEFORE")" ]; then
    git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
    git worktree prune
    git worktree add -q --detach "$worktree" "$BEFORE"
  fi
  # A first build of $BEFORE starts from this tree's compiled dependencies (those of the
  # same version and features are reused): minutes instead of a cold build on 2 cores.
  if [ ! -d target/bench/before-target/release ] && [ -d target/release/deps ]; then
    mkdir -p target/bench/before-target
    cp -a target/release target/bench/before-target/
  fi
  (cd "$worktree" && CARGO_TARGET_DIR=../before-target cargo build --release -q -p orderpay --bins)
}

# Recreates database `$2`, migrated by build `$1`'s own binary.
fresh_database() {
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $2 WITH (FORCE)" 2>/dev/null
  DATABASE_URL="$SERVER/$2" RUST_LOG=error "${BIN[$1]}" migrate >/dev/null 2>&1
}

# Prints a new API key of database `$2`, made by build `$1`.
api_key() {
  DATABASE_URL="$SERVER/$2" RUST_LOG=error "${BIN[$1]}" api-key create --name bench 2>/dev/null
}

# Starts build `$1`'s `serve` on database `$2` and port $PORT in the background (its pid in
# SERVE_PID) and waits until it is ready. Other settings come from the environment;
# SERVE_DATABASE_URL, when set, is its DATABASE_URL instead (a pooler's, say).
serve() {
  DATABASE_URL="${SERVE_DATABASE_URL:-$SERVER/$2}" HOST=127.0.0.1 PORT=$PORT RUST_LOG=warn \
    RECONCILE_INTERVAL_SECONDS=0 "${BIN[$1]}" serve 2>/dev/null &
  SERVE_PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "serve ($1) did not become ready" >&2
  exit 1
}

stop() { kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; }
rss_mib() { echo $(( $(ps -o rss= -p "$SERVE_PID") / 1024 )); }

# Readers of pgbench's and wrk's reports.
tps() { sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -1 | cut -d. -f1; }
rps() { sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' | cut -d. -f1; }
pct() { sed -nE "s/^ *$1% *([0-9.]+[a-z]+)/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
