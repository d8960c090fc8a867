#!/usr/bin/env bash
# Installs what the plugin's tests need on Debian (idempotent): PHP with the mysql/xml/mbstring/curl
# extensions, PHPUnit, xz-utils and unzip (to unpack the WordPress and WooCommerce archives the
# test shops are installed from), Chromium, and the npm packages of package-lock.json (playwright-core only; it drives
# the system Chromium and downloads no browser).
# MariaDB is expected on 127.0.0.1:3306 (root, empty password); it is started if installed but down.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(php-cli php-mysql php-xml php-mbstring php-curl phpunit xz-utils unzip chromium gettext python3 nodejs npm)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node and npm may come from elsewhere than Debian's packages.
if command -v node >/dev/null 2>&1; then missing=("${missing[@]/nodejs}"); fi
if command -v npm >/dev/null 2>&1; then missing=("${missing[@]/npm}"); fi
wanted=()
for p in "${missing[@]}"; do [ -n "$p" ] && wanted+=("$p"); done

if [ "${#wanted[@]}" -gt 0 ]; then
  echo "installing: ${wanted[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
fi

if ! php -r 'exit(@mysqli_connect("127.0.0.1","root","","",3306) ? 0 : 1);' 2>/dev/null; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "starting MariaDB"
    $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 50); do
      php -r 'exit(@mysqli_connect("127.0.0.1","root","","",3306) ? 0 : 1);' 2>/dev/null && break
      sleep 0.2
    done
  fi
fi

npm ci --no-audit --no-fund --loglevel=error
