#!/usr/bin/env bash
# Runs the benchmarks side by side with their baselines; `npm run bench -- --json FILE` also writes JSON rows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh nats-server redis-server nginx wrk
npx tsc -p .
exec node dist/dev/bench/main.js "$@"
