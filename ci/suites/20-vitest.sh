#!/usr/bin/env bash
# Unit tests beside the code (packages/*/src/**/*.test.ts) and end-to-end tests under test/.
out=$1
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
rc=$?
node -e '
const fs = require("fs");
let r = {};
try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
fs.writeFileSync(process.argv[2], `${r.numPassedTests ?? 0} ${failed}\n`);
' "$report" "$out"
rm -f "$report"
exit $rc
