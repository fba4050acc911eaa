#!/usr/bin/env bash
# The vitest tiers (vitest.config.ts projects, docs/development.md#test-tiers), one
# run each so every tier reports its own count and time: unit (pure Node, beside
# the code), integration (*.int.test.ts: real python3, adb, libimobiledevice),
# e2e (test/e2e, test/supervisor: the built CLI), prometheus (test/prometheus).
# Writes the summed "<passed> <failed>" to $1.
# Env: RPI_SWARMING_VITEST_TIERS="unit integration" runs only those tiers.
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# The e2e and prometheus tiers start the built CLI.
[[ -f packages/cli/dist/main.js ]] || npx tsc -b
tiers=${RPI_SWARMING_VITEST_TIERS:-unit integration e2e prometheus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 rc=0 lines=()
for tier in $tiers; do
  echo "--- vitest tier $tier"
  start=$SECONDS
  npx vitest run --project "$tier" --reporter=default --reporter=json --outputFile.json="$work/$tier.json" || rc=1
  # One "FAIL" line per failed test or file, which ci/test.sh repeats above its summary.
  # shellcheck disable=SC2016 # a JavaScript program, not shell
  node -e '
const fs = require("fs");
let r = {};
try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { process.exit(0); }
const first = (m) => String(m ?? "").split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 200) ?? "";
for (const file of r.testResults ?? []) {
  const name = require("path").relative(process.cwd(), file.name);
  const failed = (file.assertionResults ?? []).filter((a) => a.status === "failed");
  for (const a of failed) console.log(`FAIL vitest ${process.argv[2]}: ${name} > ${a.fullName}: ${first(a.failureMessages?.[0])}`);
  if (file.status === "failed" && failed.length === 0) console.log(`FAIL vitest ${process.argv[2]}: ${name}: ${first(file.message)}`);
}
' "$work/$tier.json" "$tier"
  # shellcheck disable=SC2016 # a JavaScript program, not shell
  read -r p f < <(node -e '
const fs = require("fs");
let r = {};
try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
// A file that fails to load counts as a failure even when it has no failed test.
const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
// No report at all (vitest crashed) is one failure.
console.log(r.numTotalTests === undefined ? "0 1" : `${r.numPassedTests ?? 0} ${failed}`);
' "$work/$tier.json")
  passed=$((passed + p))
  failed=$((failed + f))
  lines+=("$(printf 'vitest %-12s %5s passed %4s failed  %4ss' "$tier" "$p" "$f" $((SECONDS - start)))")
done
printf '%s\n' "${lines[@]}"
echo "$passed $failed" >"$out"
exit $rc
