#!/usr/bin/env bash
# Smoke run of `printbridge bench` (run by .ci/test): a few seconds per database with the debug
# binary, figures printed, no timing asserted. Real figures: `cargo run --release -- bench`
# (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
db=sqlite
if [ -n "${PRINTBRIDGE_TEST_POSTGRES_URL:-}" ]; then
  db=both
  export PRINTBRIDGE_BENCH_POSTGRES_URL="${PRINTBRIDGE_BENCH_POSTGRES_URL:-$PRINTBRIDGE_TEST_POSTGRES_URL}"
fi
PRINTBRIDGE_LOG="${PRINTBRIDGE_LOG:-warn,sqlx=error}" cargo run --locked --quiet -- bench --quick --db "$db"
