#!/usr/bin/env bash
# pytest tests of the hook script (packages/swarming-hooks/tests) and the stand-in bot (packages/swarming-double/tests). Writes "<passed> <failed>" to $1.
# The real-state-server tests run the built CLI, so build first when dist/ is missing.
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[[ -f packages/cli/dist/main.js ]] || npx tsc -b
report=$(mktemp)
python3 -m pytest -q -p no:cacheprovider --junitxml="$report" packages/swarming-hooks/tests packages/swarming-double/tests
rc=$?
if [[ $rc -eq 5 ]]; then
  # Exit 5: no tests were collected. That is a failure of this suite, not a pass.
  echo "pytest: no tests collected"
  echo "0 1" >"$out"
  exit 1
fi
python3 - "$report" "$out" <<'PY'
import sys
import xml.etree.ElementTree as ET
passed = failed = 0
try:
    root = ET.parse(sys.argv[1]).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for s in suites:
        total = int(s.get("tests", 0))
        bad = int(s.get("failures", 0)) + int(s.get("errors", 0))
        passed += total - bad - int(s.get("skipped", 0))
        failed += bad
except (OSError, ET.ParseError):
    failed = 1
with open(sys.argv[2], "w") as f:
    f.write("%d %d\n" % (passed, failed))
PY
rm -f "$report"
exit $rc
