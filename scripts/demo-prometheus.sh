#!/usr/bin/env bash
# The demo with a local Prometheus: backfills pipelines/demo/prometheus/demo.om into a fresh
# TSDB, starts Debian's prometheus on 127.0.0.1:${PORT:-9090}, runs
# pipelines/demo-prometheus.yaml, and stops the server. Needs `prometheus` and `promtool`
# (apt-get install prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/echo-health/target}"
PORT="${PORT:-9090}"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
promtool tsdb create-blocks-from openmetrics --max-block-duration=720h pipelines/demo/prometheus/demo.om "$work/data" >/dev/null
printf 'global: {scrape_interval: 1m}\nscrape_configs: []\n' > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=3650d --web.listen-address="127.0.0.1:$PORT" >"$work/prometheus.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
pipeline=pipelines/demo-prometheus.yaml
if [ "$PORT" != 9090 ]; then
  pipeline="$work/demo-prometheus.yaml"
  sed "s#127.0.0.1:9090#127.0.0.1:$PORT#; s#demo/#$(pwd)/pipelines/demo/#g; s#checks/default/#$(pwd)/pipelines/checks/default/#g; s#output: .echo-health#output: $(pwd)/pipelines/.echo-health#" pipelines/demo-prometheus.yaml > "$pipeline"
fi
cargo run --quiet -- run "$pipeline" "$@"
