#!/usr/bin/env bash
# Fails when a test shop's debug.log holds a line from the plugin: any PHP warning, notice,
# deprecation or error whose text or file path mentions PrintBridge (case-insensitive).
# Usage: check-debug-log.sh SHOP_DIR (the log is SHOP_DIR/wp-content/debug.log; none is clean).
set -euo pipefail
dir="${1:?usage: check-debug-log.sh SHOP_DIR}"
log="$dir/wp-content/debug.log"
if [ ! -f "$log" ]; then
  echo "debug.log: empty"
  exit 0
fi
if grep -i 'printbridge' "$log" >&2; then
  echo "FAIL: $log holds the lines above from the plugin" >&2
  exit 1
fi
echo "debug.log: $(wc -l < "$log") lines, none from the plugin"
