#!/usr/bin/env bash
# The whole test suite: installs what is missing, type-checks, lints, then runs every test file
# with Node's test runner against real nats-server / redis-server / prometheus processes and a
# headless Chromium (the dashboard test); curl runs the README's commands as written; systemd's
# systemd-analyze verifies the rendered units; dig (bind9-dnsutils) queries the agent DNS;
# terraform (from HashiCorp's apt repository) runs the Terraform modules' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh nats-server redis-server prometheus chromium curl systemd terraform bind9-dnsutils

rm -rf dist
npx tsc -p .
npx eslint --max-warnings=0 .

mapfile -t files < <(find dist -name '*.test.js' | sort)
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
status=0
node --test --test-concurrency=2 --test-timeout=180000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || status=$?
passed=$(grep -E '^# pass ' "$tap" | awk '{print $3}')
failed=$(grep -E '^# fail ' "$tap" | awk '{print $3}')
echo "${passed:-0} passed, ${failed:-0} failed"
exit $status
