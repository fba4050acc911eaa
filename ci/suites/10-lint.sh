#!/usr/bin/env bash
# Formatter and linter (Biome) over the whole repository, the TypeScript build, and
# every generated file (schema, chart template, dashboards, chart README, settings
# reference) equal to what `npm run generate` writes from its sources.
out=$1
passed=0 failed=0
if npx biome check . ; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "lint: biome check failed"; fi
if npx tsc -b ; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "lint: tsc -b failed"; fi
if npm run --silent generate -- --check ; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "lint: generated files are stale (npm run generate)"; fi
echo "$passed $failed" >"$out"
