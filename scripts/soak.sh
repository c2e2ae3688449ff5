#!/usr/bin/env bash
# The fault soak (tests/soak/soak.py): builds the broker and keybrokerctl, then runs
# mixed RPCs from M caller threads for N seconds against the Key Vault emulator while
# faults are injected, and checks that nothing was lost and every error was typed.
# Exit status non-zero on any loss, wrong plaintext or untyped/misattributed error.
# Usage: scripts/soak.sh --seconds N --clients M [--report FILE] [--work-dir DIR] ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
KEYBROKER_TARGETS="keybroker keybrokerctl" "$root/scripts/build.sh" >&2
exec /usr/bin/python3 "$root/tests/soak/soak.py" \
  --keybroker "$root/build/server/keybroker" --keybrokerctl "$root/build/ctl/keybrokerctl" \
  --source-dir "$root" "$@"
