#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs every
# suite in ci/suites/ in name order and sums their counts. Each suite script
# gets a file path as $1 and writes "<passed> <failed>" to it.
# Usage: ci/test.sh [SUITE...]   e.g. `ci/test.sh images` runs only ci/suites/60-images.sh
# (a suite is named without its number); no argument runs them all.
# Env: RPI_SWARMING_SKIP_IMAGES=1 skips the image build suite (said in the output).
#      RPI_SWARMING_SKIP_CLUSTER=1 skips the cluster suite and its build (said in the output).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"

suites=()
for name in "$@"; do
  match=(ci/suites/[0-9][0-9]-"$name".sh)
  [[ -f ${match[0]} ]] || { echo "no suite named $name in ci/suites"; exit 2; }
  suites+=("${match[0]}")
done
((${#suites[@]})) || suites=(ci/suites/*.sh)

install_args=()
[[ "${RPI_SWARMING_SKIP_IMAGES:-}" == "1" ]] && install_args+=(--no-images)
[[ "${RPI_SWARMING_SKIP_CLUSTER:-}" == "1" ]] && install_args+=(--no-cluster)
if ! bash ci/install-tools.sh "${install_args[@]}"; then
  echo "install-tools failed"
  echo "Total: 0 passed, 1 failed"
  exit 1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
total_passed=0
total_failed=0
summary=()
for suite in "${suites[@]}"; do
  name=$(basename "$suite" .sh)
  echo "=== suite $name"
  counts="$results/$name"
  start=$SECONDS
  bash "$suite" "$counts" 2>&1 | tee "$results/$name.log"
  rc=${PIPESTATUS[0]}
  # What failed, repeated above the summary so the end of a long log names it.
  grep -E '^(FAIL|FAILED) ' "$results/$name.log" | sed "s/^/$name: /" >>"$results/failures"
  read -r p f <"$counts" 2>/dev/null || { p=0; f=0; }
  # A suite that exits non-zero without counting a failure still failed.
  if [[ $rc -ne 0 && ${f:-0} -eq 0 ]]; then f=1; fi
  total_passed=$((total_passed + ${p:-0}))
  total_failed=$((total_failed + ${f:-0}))
  summary+=("$(printf '%-24s %5s passed %4s failed  %4ss' "$name" "${p:-0}" "${f:-0}" $((SECONDS - start)))")
done
if [[ -s $results/failures ]]; then
  echo "=== failures"
  cat "$results/failures"
fi
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "Total: $total_passed passed, $total_failed failed"
[[ $total_failed -eq 0 ]]
