#!/usr/bin/env bash
# Builds the installable plugin zip (one printbridge/ folder) and prints its path:
# target/plugin-artifacts/printbridge-VERSION.zip
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out_dir="$here/../target/plugin-artifacts"
mkdir -p "$out_dir"
version="$(sed -n 's/^ \* Version: *\([0-9A-Za-z.+-]*\).*/\1/p' "$here/printbridge/printbridge.php" | head -n1)"
out="$(cd "$out_dir" && pwd)/printbridge-${version:-dev}.zip"
rm -f "$out"
python3 - "$here" "$out" <<'PY'
import os, sys, zipfile
root, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "printbridge")):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith(".") and name != ".htaccess":
                continue
            full = os.path.join(dirpath, name)
            z.write(full, os.path.relpath(full, root))
PY
echo "$out"
