#!/usr/bin/env bash
# The test command (see README): installs what the tests need on a bare machine, then runs
# every test. Safe to run again: nothing is installed twice.
set -euo pipefail
cd "$(dirname "$0")/.."

# One persistent build folder outside the repo, shared with local work (DuckDB's C++ is
# compiled once; a cold build takes ~20-50 minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/echo-health/target}"

# Shared fixtures beside the repository, as CI has them (tests that need them skip loudly
# when they are missing).
if [ -z "${ECHO_HEALTH_SHARED:-}" ] && [ -d ../shared/fixtures ]; then
  ECHO_HEALTH_SHARED="$(cd ../shared && pwd)"
  export ECHO_HEALTH_SHARED
fi

# System packages: a C/C++ compiler for the bundled DuckDB; Debian's chromium for the
# browser check of the rendered site (tests/site.rs); node/npm for its driver; prometheus
# for promtool (the OpenMetrics export is checked with it).
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "missing: ${need[*]} (install them, then run again)" >&2
    exit 2
  fi
fi

# The browser check's driver (playwright-core drives the system Chromium; it downloads no
# browser). Installed once, from the lock file.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# With everything installed, a missing browser or promtool is a failure, not a skip.
export ECHO_HEALTH_REQUIRE_BROWSER=1
export ECHO_HEALTH_REQUIRE_PROMTOOL=1

cargo test --locked "$@"
