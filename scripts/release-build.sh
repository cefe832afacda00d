#!/usr/bin/env bash
# npm pack's prepack: compiles, then drops compiled files whose source is gone (an incremental
# build never deletes them), so the release tarball holds exactly the current code.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
for dir in shared agent gateway services cli; do
  while IFS= read -r -d '' js; do
    source="${js#dist/}"
    source="${source%.js}.ts"
    if [[ ! -f $source ]]; then
      echo "prepack: removing $js (its source $source is gone)" >&2
      rm -f "$js" "$js.map"
    fi
  done < <(find "dist/$dir" -name '*.js' -print0)
done
