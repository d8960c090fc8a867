#!/usr/bin/env bash
# Regenerates printbridge/languages/printbridge.pot from the plugin's translatable strings
# (text domain "printbridge"). With --check, fails when the committed file is out of date.
set -euo pipefail
cd "$(dirname "$0")/printbridge"
out="languages/printbridge.pot"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
find . -name '*.php' -print | LC_ALL=C sort | LC_ALL=C.UTF-8 xgettext --files-from=- --language=PHP --from-code=UTF-8 \
  --keyword=__ --keyword=_e --keyword=esc_html__ --keyword=esc_html_e --keyword=esc_attr__ --keyword=esc_attr_e \
  --keyword=_n:1,2 --keyword=_x:1,2c --add-comments=translators: --sort-by-file \
  --package-name=PrintBridge --package-version="$(sed -n 's/^ \* Version: *\([0-9A-Za-z.+-]*\).*/\1/p' printbridge.php | head -n1)" \
  --msgid-bugs-address="https://github.com/printbridge/printbridge/issues" --omit-header -o "$tmp"
{
  printf '# Translations of the PrintBridge WordPress plugin.\n# This file is distributed under the same license as the plugin (GPL-2.0-or-later).\n'
  printf 'msgid ""\nmsgstr ""\n"Project-Id-Version: PrintBridge\\n"\n"MIME-Version: 1.0\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n"X-Domain: printbridge\\n"\n\n'
  cat "$tmp"
} > "$tmp.full"
if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$tmp.full" "$out"; then
    rm -f "$tmp.full"
    echo "printbridge.pot is out of date: run bash plugin-php/make-pot.sh" >&2
    exit 1
  fi
  rm -f "$tmp.full"
  echo "printbridge.pot is up to date"
else
  mkdir -p languages
  mv "$tmp.full" "$out"
  echo "wrote printbridge/$out ($(grep -c '^msgid "' "$out") strings)"
fi
