#!/usr/bin/env bash
# Smoke run of the benchmark (run by .ci/test): its quick mode, a few seconds per database, built
# with the dev profile; figures printed, no timing asserted. Real figures: `cargo bench --bench
# bridge` (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
db=sqlite
if [ -n "${PRINTBRIDGE_TEST_POSTGRES_URL:-}" ]; then
  db=both
  export PRINTBRIDGE_BENCH_POSTGRES_URL="${PRINTBRIDGE_BENCH_POSTGRES_URL:-$PRINTBRIDGE_TEST_POSTGRES_URL}"
fi
if ! out=$(PRINTBRIDGE_LOG="${PRINTBRIDGE_LOG:-warn,sqlx=error}" cargo bench --locked --quiet --profile dev --bench bridge -- --quick --db "$db" 2>&1); then
  printf '%s\n' "$out"
  exit 1
fi
printf '%s\n' "$out"
# The table's content, not its timings: intake ran, the durable floor's syncs were counted,
# and the summary weighs each run's CPU per request against the bare handler's.
for want in "intake, closed loop" "syncs of" "a sync " "CPU per request"; do
  if ! grep -qF "$want" <<<"$out"; then
    echo "bench smoke: the output lacks \"$want\"" >&2
    exit 1
  fi
done
