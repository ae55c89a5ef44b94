#!/usr/bin/env bash
# Catalog benchmark: generate the 10,000-component organisation, then parse + validate +
# assemble it N times (one process each) and print the median, min and max CPU time, and
# the peak memory; with Backstage's own validator on the same files when it is available.
#   bash scripts/bench-catalog.sh [runs] [components]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
components="${2:-10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/echo-health/target}"
cargo build --quiet
bin="$CARGO_TARGET_DIR/debug/echo-health"
org="$(mktemp -d)/org"
"$bin" generate-org --out "$org" --components "$components" --teams $((components * 6 / 100)) --domains 40
summary=$(mktemp)
cat > "$summary" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin]
def show(key):
    v = sorted(r[key] for r in rows)
    return "median %.3f s (min %.3f, max %.3f)" % (statistics.median(v), v[0], v[-1])
r = rows[0]
print("%d files, %.1f MB, %d documents, %d entities, %d relations, %d runs" % (r["files"], r["bytes"] / 1e6, r["documents"], r["entities"], r["relations"], len(rows)))
print("echo-health parse+validate CPU:", show("parse_validate_cpu_s"))
print("echo-health whole ingestion CPU (parse, validate, relations, resolution):", show("cpu_s"))
print("echo-health wall:", show("wall_s"))
print("echo-health peak memory: %.0f MB" % max(x["peak_rss_mb"] for x in rows))
PY
for _ in $(seq "$runs"); do "$bin" bench-catalog "$org" --format json; done | python3 "$summary"
bsv="${BS_VALIDATE_DIR:-}"
if [ -n "$bsv" ] && [ -f "$bsv/validate.js" ] && [ -d "$bsv/node_modules" ]; then
  /usr/bin/time -f "backstage validator: %U user + %S sys CPU s, %e s wall, %M KB peak" \
    node "$bsv/validate.js" $(find "$org" -name '*.yaml' | sort) --summary 2>&1 | tail -2
else
  echo "(set BS_VALIDATE_DIR to a copy of ../shared/tools/bs-validate with node_modules installed to compare with Backstage)"
fi
