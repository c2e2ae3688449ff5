#!/usr/bin/env bash
# Builds keybroker and starts it on the embedded local keyring.
# Usage: scripts/run.sh [ADDR [DATA_DIR [METRICS_ADDR]]]
#   (defaults: 127.0.0.1:50051, ./data, 127.0.0.1:9090 for /metrics, /healthz, /readyz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
listen=${1:-127.0.0.1:50051}
data_dir=${2:-$root/data}
metrics=${3:-127.0.0.1:9090}
exec "$root/build/server/keybroker" --listen "$listen" --data-dir "$data_dir" \
  --metrics-listen "$metrics"
