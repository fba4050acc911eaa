#!/usr/bin/env bash
# Formatter and linter (Biome) over the whole repository, and the TypeScript build.
out=$1
passed=0 failed=0
if npx biome check . ; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "lint: biome check failed"; fi
if npx tsc -b ; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "lint: tsc -b failed"; fi
echo "$passed $failed" >"$out"
