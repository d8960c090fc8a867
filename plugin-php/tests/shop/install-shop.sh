#!/usr/bin/env bash
# Installs a real WooCommerce test shop: WordPress core and the WooCommerce plugin from their
# released archives, on MariaDB, ready to be served by `php -S` (see serve.sh).
#
# Usage:
#   install-shop.sh --wordpress ARCHIVE --woocommerce ARCHIVE --dir DIR --db NAME --url URL
#                   [--hpos on|off] [--plugin link|none|ZIP] [--webhooks sync|async]
#                   [--country CC] [--currency CUR] [--cache DIR]
#
#   --wordpress ARCHIVE   WordPress core archive (.tar.xz, .tar.gz or .zip holding wordpress/)
#   --woocommerce ARCHIVE WooCommerce plugin archive (.tar.xz, .tar.gz or .zip holding woocommerce/)
#   --dir DIR             the site's document root; removed and recreated (it must be empty, absent,
#                         or a shop this script installed)
#   --db NAME             MariaDB database, dropped and recreated
#   --url URL             site URL, e.g. http://127.0.0.1:8891 (home and siteurl)
#   --hpos on|off         WooCommerce order storage: HPOS tables (on, default) or posts (off)
#   --plugin MODE         link (default): symlink plugin-php/printbridge into wp-content/plugins and
#                         activate it; ZIP: unpack that zip into wp-content/plugins and activate it;
#                         none: leave it out (an owner uploads the zip in Plugins > Add New)
#   --webhooks MODE       sync (default): WooCommerce sends webhooks during the request that changes
#                         the order (`woocommerce_webhook_deliver_async` returns false); async: they
#                         are queued in Action Scheduler and sent by `php run-scheduled.php DIR`
#   --country CC          store base country (default BE); --currency CUR (default EUR)
#   --cache DIR           unpacked archives, keyed by their SHA-256 (default <repo>/target/shop-cache)
#
# Each option can also come from the environment: PRINTBRIDGE_SHOP_WORDPRESS,
# PRINTBRIDGE_SHOP_WOOCOMMERCE, PRINTBRIDGE_SHOP_DIR, PRINTBRIDGE_SHOP_DB, PRINTBRIDGE_SHOP_URL,
# PRINTBRIDGE_SHOP_HPOS, PRINTBRIDGE_SHOP_PLUGIN, PRINTBRIDGE_SHOP_WEBHOOKS,
# PRINTBRIDGE_SHOP_COUNTRY, PRINTBRIDGE_SHOP_CURRENCY, PRINTBRIDGE_SHOP_CACHE. MariaDB:
# PRINTBRIDGE_DB_HOST (127.0.0.1:3306), PRINTBRIDGE_DB_USER (root), PRINTBRIDGE_DB_PASSWORD (empty).
#
# The shop: administrator `admin` / `admin-password` (admin@example.org); WP_DEBUG with
# WP_DEBUG_LOG to DIR/wp-content/debug.log and WP_DEBUG_DISPLAY off; external HTTP blocked except
# 127.0.0.1 and localhost; no WP-Cron; pretty permalinks; WooCommerce pages (shop, cart and
# checkout blocks, my account), coming-soon mode off, cash on delivery enabled, free shipping
# everywhere; a must-use plugin (printbridge-test-shop.php) that lets webhooks reach loopback
# hosts on any port and records wp_mail() to DIR/wp-content/mail.log instead of sending.
# DIR/shop.env records what was installed (shell assignments). The last line printed is
# `shop ready: ...`. What the installation itself logged is in DIR/wp-content/install-debug.log;
# DIR/wp-content/debug.log starts empty.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
plugin_root="$(cd "$here/../.." && pwd)"
repo_root="$(cd "$plugin_root/.." && pwd)"

wp_archive="${PRINTBRIDGE_SHOP_WORDPRESS:-}"
wc_archive="${PRINTBRIDGE_SHOP_WOOCOMMERCE:-}"
dir="${PRINTBRIDGE_SHOP_DIR:-}"
db="${PRINTBRIDGE_SHOP_DB:-}"
url="${PRINTBRIDGE_SHOP_URL:-}"
hpos="${PRINTBRIDGE_SHOP_HPOS:-on}"
plugin="${PRINTBRIDGE_SHOP_PLUGIN:-link}"
webhooks="${PRINTBRIDGE_SHOP_WEBHOOKS:-sync}"
country="${PRINTBRIDGE_SHOP_COUNTRY:-BE}"
currency="${PRINTBRIDGE_SHOP_CURRENCY:-EUR}"
cache="${PRINTBRIDGE_SHOP_CACHE:-$repo_root/target/shop-cache}"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "install-shop: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --wordpress) wp_archive="$2"; shift 2 ;;
    --woocommerce) wc_archive="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --hpos) hpos="$2"; shift 2 ;;
    --plugin) plugin="$2"; shift 2 ;;
    --webhooks) webhooks="$2"; shift 2 ;;
    --country) country="$2"; shift 2 ;;
    --currency) currency="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install-shop: unknown argument $1" >&2; usage ;;
  esac
done

[ -n "$wp_archive" ] && [ -f "$wp_archive" ] || die "--wordpress: no archive at '${wp_archive}'"
[ -n "$wc_archive" ] && [ -f "$wc_archive" ] || die "--woocommerce: no archive at '${wc_archive}'"
[ -n "$dir" ] || die "--dir is required"
[[ "$db" =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "--db must be 1-64 letters, digits or _"
[[ "$url" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "--url must look like http://127.0.0.1:8891"
case "$hpos" in on|off) ;; *) die "--hpos must be on or off" ;; esac
case "$webhooks" in sync|async) ;; *) die "--webhooks must be sync or async" ;; esac
case "$plugin" in link|none) ;; *) [ -f "$plugin" ] || die "--plugin: no zip at '$plugin'" ;; esac
[[ "$country" =~ ^[A-Z]{2}$ ]] || die "--country must be a two-letter code"
[[ "$currency" =~ ^[A-Z]{3}$ ]] || die "--currency must be a three-letter code"

# Unpacks ARCHIVE once into CACHE/<sha256>/ and prints the path of its top folder NAME.
unpacked() {
  local archive="$1" name="$2" sum target tmp
  sum="$(sha256sum "$archive" | cut -d' ' -f1)"
  target="$cache/$sum"
  if [ ! -d "$target/$name" ]; then
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.unpack.XXXXXX")"
    case "$archive" in
      *.zip) unzip -q "$archive" -d "$tmp" ;;
      *) tar -xf "$archive" -C "$tmp" ;;
    esac
    [ -d "$tmp/$name" ] || { rm -rf "$tmp"; die "$archive does not hold a $name/ folder"; }
    # Another installation may have cached the same archive meanwhile: its copy is kept.
    mv -T "$tmp" "$target" 2>/dev/null || rm -rf "$tmp"
    [ -d "$target/$name" ] || die "$target holds no $name/: remove it and run again"
  fi
  echo "$target/$name"
}

# Copies a cached tree as hard links when the file system allows it (fast, no extra space).
copy_tree() {
  cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -a "$1" "$2"; }
}

wp_tree="$(unpacked "$wp_archive" wordpress)"
wc_tree="$(unpacked "$wc_archive" woocommerce)"

if [ -e "$dir" ]; then
  if [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/.printbridge-test-shop" ]; then
    die "$dir exists, is not empty and is not a test shop; refusing to remove it"
  fi
  rm -rf "$dir"
fi
mkdir -p "$(dirname "$dir")"
dir="$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")"
copy_tree "$wp_tree" "$dir"
touch "$dir/.printbridge-test-shop"
copy_tree "$wc_tree" "$dir/wp-content/plugins/woocommerce"
mkdir -p "$dir/wp-content/mu-plugins" "$dir/wp-content/uploads"
cp "$here/printbridge-test-shop.php" "$dir/wp-content/mu-plugins/"
case "$plugin" in
  link) ln -s "$plugin_root/printbridge" "$dir/wp-content/plugins/printbridge" ;;
  none) ;;
  *) unzip -q "$plugin" -d "$dir/wp-content/plugins" ;;
esac

export PRINTBRIDGE_SHOP_DIR="$dir" PRINTBRIDGE_SHOP_DB="$db" PRINTBRIDGE_SHOP_URL="$url" \
  PRINTBRIDGE_SHOP_HPOS="$hpos" PRINTBRIDGE_SHOP_WEBHOOKS="$webhooks" \
  PRINTBRIDGE_SHOP_COUNTRY="$country" PRINTBRIDGE_SHOP_CURRENCY="$currency" \
  PRINTBRIDGE_SHOP_ACTIVATE="$([ "$plugin" = none ] && echo no || echo yes)"
php "$here/shop-setup.php" config
php "$here/shop-setup.php" wordpress
php "$here/shop-setup.php" woocommerce
php "$here/shop-setup.php" configure
php "$here/shop-setup.php" verify
