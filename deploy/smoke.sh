#!/usr/bin/env bash
# The Docker image, run for real: builds it from the Dockerfile, runs it beside PostgreSQL,
# and walks the README's quick start against the container (a key, an order, the pay link,
# the sandbox's Pay, `paid`), then checks its health check and that `docker stop` stops it
# cleanly. On demand (too slow for .ci/run): `bash deploy/smoke.sh`.
#
# Where no image registry is reachable (this project's machines), the base images the
# Dockerfile names are made here when a pull fails: debian:bookworm-slim by debootstrap, and
# rust:1.95-slim-bookworm as that plus gcc and this machine's Rust toolchain. The Dockerfile
# is unchanged: where a registry answers, the official images are used.
#
# PostgreSQL is this machine's (127.0.0.1:5432, trust), reached with --network host: the
# steps mirror docker-compose.yml's app service, whose postgres:16 image cannot be made here.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18090}
IMAGE=${IMAGE:-orderpay:smoke}
DB=orderpay_smoke
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d /tmp/orderpay-smoke.XXXX)
step() { printf '\n== %s\n' "$*"; }

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "needs Docker (Debian: apt-get install docker.io)" >&2; exit 1; }
  (dockerd >"$WORK/dockerd.log" 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
docker version --format 'server {{.Server.Version}}'

# Makes `$1` from a debootstrapped bookworm (with the packages in `$2`) unless it exists or
# can be pulled; `$3` is a script run in the root file system before it is imported.
base_image() {
  local name=$1 include=$2 finish=${3:-}
  if docker image inspect "$name" >/dev/null 2>&1 || docker pull -q "$name" >/dev/null 2>&1; then
    echo "$name: present"
    return
  fi
  echo "$name: no registry answers; making it with debootstrap"
  command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  local root="$WORK/${name//[:\/]/_}"
  debootstrap --variant=minbase ${include:+--include=$include} bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; exit 1; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc "$root"/usr/share/man
  [ -z "$finish" ] || (cd "$root" && eval "$finish")
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' - "$name" >/dev/null
  rm -rf "$root"
}

step "Base images"
base_image debian:bookworm-slim ""
toolchain=$(rustc --print sysroot)
# This machine's certificate authorities too: where its egress to crates.io is re-signed by a
# proxy, cargo in the build must trust what the machine trusts.
base_image rust:1.95-slim-bookworm gcc,libc6-dev,ca-certificates \
  "mkdir -p usr/local/cargo && cp -a '$toolchain/bin' '$toolchain/lib' usr/local/cargo/ \
   && cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/ca-certificates.crt"

step "Build the image from the Dockerfile"
started=$(date +%s)
docker build -q -t "$IMAGE" . >/dev/null
echo "built in $(( $(date +%s) - started )) s"
docker image ls "$IMAGE" --format 'image {{.Repository}}:{{.Tag}}: {{.Size}}'
size=$(docker image inspect "$IMAGE" --format '{{.Size}}')
user=$(docker image inspect "$IMAGE" --format '{{.Config.User}}')
echo "runs as user: $user"
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || { echo "the image runs as root" >&2; exit 1; }
[ "$size" -lt $((100 * 1000 * 1000)) ] || { echo "the image is over 100 MB" >&2; exit 1; }

step "Run it beside PostgreSQL (docker-compose.yml's app service, with --network host)"
psql "postgres://postgres@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
docker rm -f orderpay-smoke >/dev/null 2>&1 || true
docker run -d --name orderpay-smoke --network host \
  -e DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" -e PORT="$PORT" \
  -e RUST_LOG=info -e LOG_FORMAT=json -e PAYMENT_PROVIDER=sandbox \
  -e PUBLIC_BASE_URL="http://127.0.0.1:$PORT" -e MERCHANT_NAME="Tea House" \
  --health-interval 2s \
  "$IMAGE" >/dev/null
base=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/readyz"; echo

step "The README's quick start, against the container"
key=$(docker exec orderpay-smoke orderpay api-key create --name smoke)
echo "api key: ${key:0:12}…"
order=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -X POST "$base/v1/orders" \
  -d '{"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
       "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}]}')
id=$(echo "$order" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "order $id: $(echo "$order" | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["reference"], o["status"], o["total_amount"])')"
link=$(curl -sf -H "Authorization: Bearer $key" -X POST "$base/v1/orders/$id/payment-link" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
echo "pay link: ${link%/*}/…"
# What a chat app's preview shows (a read: nothing opened), then the page's own POST.
echo "preview: $(curl -sf -A 'WhatsApp/2.23.20.0 A' "$link" | grep -o '<meta property="og:title" content="[^"]*"')"
checkout=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST -H "Origin: $base" "$link")
echo "opened: ${checkout%/*}/…"
paid=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Origin: $base" "$checkout/pay")
echo "Pay pressed: $paid"
status=$(curl -sf -H "Authorization: Bearer $key" "$base/v1/orders/$id" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
echo "order status: $status"
[ "$status" = paid ] || { echo "not paid" >&2; docker logs orderpay-smoke | tail -20; exit 1; }

step "Health check and a clean stop"
for _ in $(seq 1 30); do
  health=$(docker inspect orderpay-smoke --format '{{.State.Health.Status}}')
  [ "$health" = healthy ] && break; sleep 1
done
echo "health: $health"
[ "$health" = healthy ] || { echo "the health check does not pass" >&2; exit 1; }
started=$(date +%s)
docker stop -t 20 orderpay-smoke >/dev/null
code=$(docker inspect orderpay-smoke --format '{{.State.ExitCode}}')
echo "docker stop: exit code $code after $(( $(date +%s) - started )) s"
docker logs orderpay-smoke 2>&1 | tail -3
docker rm orderpay-smoke >/dev/null
[ "$code" = 0 ] || { echo "did not stop cleanly" >&2; exit 1; }
psql "postgres://postgres@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
rm -rf "$WORK"
step "smoke: passed"
