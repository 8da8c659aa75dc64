#!/usr/bin/env bash
# A client generated from the served /openapi.json is exact (issue 24): the document validates
# (openapi-spec-validator), Redocly's recommended rules find no error, openapi-typescript's
# types compile the example bot under `tsc --strict` with no cast (and refuse its misspelt
# refund reason), the bot runs against the service, and openapi-python-client generates one
# function per operation. Usage: examples/check-clients.sh <base URL> <API key>; the service
# must run with the sandbox as its provider (the bot pays through the test helpers).
set -euo pipefail
cd "$(dirname "$0")"
base=${1:?base URL}
key=${2:?API key}

SPEC_VALIDATOR_VERSION=0.9.0
PYTHON_CLIENT_VERSION=0.29.1
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-spec-validator') != '$SPEC_VALIDATOR_VERSION')" 2>/dev/null; then
  python3 -m pip install -q "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi
if ! openapi-python-client --version 2>/dev/null | grep -q "$PYTHON_CLIENT_VERSION"; then
  python3 -m pip install -q "openapi-python-client==$PYTHON_CLIENT_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -sf "$base/openapi.json" -o "$work/openapi.json"

echo "-- openapi-spec-validator"
python3 - "$work/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import OpenAPIV31SpecValidator
errors = list(OpenAPIV31SpecValidator(json.load(open(sys.argv[1]))).iter_errors())
for error in errors:
    print("  ", str(error).splitlines()[0])
sys.exit(1 if errors else 0)
PY
echo "valid"

echo "-- npm ci (examples/node-bot: versions pinned in its package-lock.json)"
(cd node-bot && npm ci --no-audit --no-fund --loglevel=error)

echo "-- Redocly, recommended rules (errors fail; warnings are listed)"
(cd node-bot && npx redocly lint --extends=recommended --format=summary "$work/openapi.json" 2>&1 \
  | grep -v '║\|╔\|╚')

echo "-- openapi-typescript, then tsc --strict on the example bot"
(cd node-bot && npx openapi-typescript "$work/openapi.json" -o src/orderpay.d.ts && npx tsc -p .)

echo "-- the example bot against $base"
(cd node-bot && ORDERPAY_URL="$base" ORDERPAY_API_KEY="$key" timeout 120 npx tsx src/bot.ts)

echo "-- openapi-python-client: one module per operation"
openapi-python-client generate --path "$work/openapi.json" --output-path "$work/python" --meta none \
  >"$work/python.log" 2>&1 || { cat "$work/python.log"; exit 1; }
python3 - "$work/openapi.json" "$work/python" <<'PY'
import json, os, sys
document, out = json.load(open(sys.argv[1])), sys.argv[2]
missing = [
    f"{method.upper()} {path} ({op['operationId']})"
    for path, item in document["paths"].items()
    for method, op in item.items()
    if not os.path.exists(os.path.join(out, "api", op["tags"][0], op["operationId"] + ".py"))
]
for m in missing:
    print("   no function for", m)
sys.exit(1 if missing else 0)
PY
echo "clients: exact"
