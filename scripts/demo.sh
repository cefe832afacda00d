#!/usr/bin/env bash
# Starts the local 3-site federation demo; `npm run demo -- --smoke` checks it and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh nats-server
npx tsc -p .
exec node dist/dev/demo/main.js "$@"
