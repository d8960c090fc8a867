#!/usr/bin/env bash
# Serves a test shop installed by install-shop.sh: serve.sh DIR PORT [WORKERS].
# Runs `php -S 127.0.0.1:PORT -t DIR router.php` with PHP_CLI_SERVER_WORKERS (default 4) so that a
# page, its REST calls and WordPress' loopback requests run in parallel. The port must match the
# --url given to install-shop.sh. Stop it with SIGTERM or SIGINT to this script's process id: PHP
# does not pass the signal on to its workers, so the script ends the server's whole process group.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: serve.sh DIR PORT [WORKERS]}"
port="${2:?usage: serve.sh DIR PORT [WORKERS]}"
[ -f "$dir/wp-config.php" ] || { echo "serve.sh: $dir is not an installed shop" >&2; exit 1; }
export PHP_CLI_SERVER_WORKERS="${3:-${PHP_CLI_SERVER_WORKERS:-4}}"
set -m # the server and its workers get a process group of their own
php -d memory_limit=512M -d display_errors=0 -S "127.0.0.1:$port" -t "$dir" "$here/router.php" &
server=$!
trap 'kill -TERM -- "-$server" 2>/dev/null || true' EXIT INT TERM
wait "$server"
