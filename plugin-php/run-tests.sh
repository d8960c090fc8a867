#!/usr/bin/env bash
# Tests of the WordPress plugin: php -l on every PHP file, node --check on the scripts, PHPUnit
# against real WordPress + WooCommerce shops on MariaDB (installed from their release archives,
# PRINTBRIDGE_WP_ARCHIVES), the headless-Chromium tests, and the installable zip. A missing tool
# is skipped, or is a failure when PRINTBRIDGE_REQUIRE_ALL=1.
set -euo pipefail
cd "$(dirname "$0")"

REQUIRE_ALL="${PRINTBRIDGE_REQUIRE_ALL:-0}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMIUM

missing() {
  if [ "$REQUIRE_ALL" = "1" ]; then
    echo "FAIL: $1 (PRINTBRIDGE_REQUIRE_ALL=1)" >&2
    exit 1
  fi
  echo "SKIP: $1"
}

echo "== php -l"
if command -v php >/dev/null 2>&1; then
  count=0
  while IFS= read -r -d '' f; do
    out="$(php -l "$f" 2>&1)" || { echo "$out" >&2; exit 1; }
    count=$((count + 1))
  done < <(find printbridge tests -name '*.php' -not -path '*/node_modules/*' -print0)
  echo "$count files clean"
else
  missing "php is not installed"
fi

echo "== node --check"
if command -v node >/dev/null 2>&1; then
  for f in printbridge/assets/js/*.js tests/browser/stand-ins/*.js tests/browser/*.mjs; do node --check "$f"; done
  echo "scripts clean"
else
  missing "node is not installed"
fi

echo "== translations template"
if command -v xgettext >/dev/null 2>&1; then
  bash make-pot.sh --check
else
  missing "xgettext (gettext) is not installed"
fi

db_up() {
  php -r 'exit(@mysqli_connect(getenv("PRINTBRIDGE_DB_HOST") ? explode(":", getenv("PRINTBRIDGE_DB_HOST"))[0] : "127.0.0.1", getenv("PRINTBRIDGE_DB_USER") ?: "root", (string) getenv("PRINTBRIDGE_DB_PASSWORD"), "", 3306) ? 0 : 1);' 2>/dev/null
}

# The real-shop suite: PHPUnit against WordPress + WooCommerce installed from their release
# archives by tests/shop/install-shop.sh, on each pair "WORDPRESS WOOCOMMERCE HPOS" below, then
# the shop's debug.log must hold nothing from the plugin.
ARCHIVES="${PRINTBRIDGE_WP_ARCHIVES:-$(cd .. && pwd)/../shared/wordpress}"
SHOP_PAIRS="${PRINTBRIDGE_SHOP_PAIRS:-7.1.0:11.0.1:on 7.1.0:11.0.1:off 6.8.8:9.9.5:off}"
SHOPS_DIR="$(cd .. && pwd)/target/shops"
# Prefix of the PHPUnit shops' MariaDB databases; two checkouts testing at once need different ones.
DB_PREFIX="${PRINTBRIDGE_PHPUNIT_DB_PREFIX:-printbridge_phpunit}"

# The first archive in $ARCHIVES named NAME.tar.xz, NAME.tar.gz or NAME.zip for one of the NAMEs.
archive() {
  local name ext
  for name in "$@"; do
    for ext in tar.xz tar.gz zip; do
      if [ -f "$ARCHIVES/$name.$ext" ]; then echo "$ARCHIVES/$name.$ext"; return; fi
    done
  done
}

# Sets wp_archive and wc_archive for WordPress $1 + WooCommerce $2; when either is not found,
# says so (a failure with PRINTBRIDGE_REQUIRE_ALL=1) and returns 1.
pair_archives() {
  wp_archive="$(archive "wordpress-$1")"
  wc_archive="$(archive "woocommerce-$2" "woocommerce.$2")"
  if [ -z "$wp_archive" ] || [ -z "$wc_archive" ]; then
    missing "WordPress $1 / WooCommerce $2 archives not found in $ARCHIVES (PRINTBRIDGE_WP_ARCHIVES)"
    return 1
  fi
}

echo "== phpunit (real WordPress + WooCommerce)"
if ! command -v php >/dev/null 2>&1 || ! command -v phpunit >/dev/null 2>&1; then
  missing "php and phpunit are needed for the plugin's test suite"
elif ! db_up; then
  missing "MariaDB is not reachable on 127.0.0.1:3306"
else
  for pair in $SHOP_PAIRS; do
    IFS=: read -r wp_version wc_version hpos <<<"$pair"
    pair_archives "$wp_version" "$wc_version" || continue
    echo "-- WordPress $wp_version + WooCommerce $wc_version, HPOS $hpos"
    shop="$SHOPS_DIR/phpunit-$wp_version-hpos-$hpos"
    bash tests/shop/install-shop.sh --wordpress "$wp_archive" --woocommerce "$wc_archive" \
      --dir "$shop" --db "${DB_PREFIX}_${wp_version//./_}_$hpos" --url http://127.0.0.1:8899 --hpos "$hpos"
    PRINTBRIDGE_TEST_SHOP_DIR="$shop" phpunit -c tests/phpunit.xml.dist
    bash tests/shop/check-debug-log.sh "$shop"
  done
fi

# The browser tests: headless Chromium in a real shop installed from the archives, the owner's and
# the customer's flows against the real bridge (PRINTBRIDGE_BIN) and the provider sandboxes; the
# newer pair in full, the older one as a smoke run. Screenshots: target/plugin-artifacts/.
BIN="${PRINTBRIDGE_BIN:-$(cd .. && pwd)/target/debug/printbridge}"
BROWSER_PAIRS="${PRINTBRIDGE_BROWSER_PAIRS:-7.1.0:11.0.1:full 6.8.8:9.9.5:smoke}"
echo "== browser tests (headless Chromium, real shop, real bridge)"
if ! command -v node >/dev/null 2>&1 || [ ! -x "$CHROMIUM" ] || [ ! -d node_modules/playwright-core ]; then
  missing "the browser tests need node, node_modules/playwright-core (bash plugin-php/install-deps.sh) and $CHROMIUM"
elif [ ! -x "$BIN" ]; then
  missing "the browser tests need the bridge binary at $BIN (cargo build, or set PRINTBRIDGE_BIN)"
elif ! db_up; then
  missing "MariaDB is not reachable on 127.0.0.1:3306"
else
  for pair in $BROWSER_PAIRS; do
    IFS=: read -r wp_version wc_version mode <<<"$pair"
    pair_archives "$wp_version" "$wc_version" || continue
    echo "-- WordPress $wp_version + WooCommerce $wc_version ($mode)"
    flags=()
    [ "$mode" = smoke ] && flags=(--smoke)
    PRINTBRIDGE_BIN="$BIN" node tests/browser/shop.test.mjs --wordpress "$wp_archive" --woocommerce "$wc_archive" "${flags[@]}"
  done
fi

echo "== zip"
if command -v python3 >/dev/null 2>&1; then
  zip_path="$(bash build-zip.sh)"
  python3 - "$zip_path" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
required = ["printbridge/printbridge.php", "printbridge/uninstall.php", "printbridge/readme.txt",
            "printbridge/includes/class-printbridge-cart.php", "printbridge/assets/js/printbridge-product.js"]
missing = [n for n in required if n not in names]
assert not missing, f"zip lacks {missing}"
assert all(n.startswith("printbridge/") for n in names), "zip must hold one printbridge/ folder"
assert not any("/tests/" in n or n.endswith(".map") for n in names)
print(f"{sys.argv[1]}: {len(names)} entries")
PY
else
  missing "python3 is needed to build the zip"
fi
echo "plugin tests passed"
